/* test_plot.c — canvas geometry, clipping, font, colour maps, streaming percentiles, and
 * quicklook / network PNGs read back with an independent decoder (Pillow). */
#include "check.h"
#include "png_check.h"
#include "cbas/budget.h"
#include "cbas/plot.h"
#include <stdlib.h>
#include <string.h>

static const plot_rgba K = {0, 0, 0, 255}, Wh = {255, 255, 255, 255};

static int is(plot_rgba p, int r, int g, int b) { return p.r == r && p.g == g && p.b == b; }
static int same(plot_rgba a, plot_rgba b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
static int count_ink(const plot_canvas *c) {
  int n = 0;
  for (uint32_t y = 0; y < c->h; y++)
    for (uint32_t x = 0; x < c->w; x++) n += !is(plot_get(c, (int)x, (int)y), 255, 255, 255);
  return n;
}

static void test_line_diagonal(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  plot_canvas c;
  CHECK(plot_canvas_new(&ctx, &c, 20, 20, Wh) == 0);
  for (int dir = 0; dir < 2; dir++) {
    plot_fill(&c, Wh);
    if (dir) plot_line(&c, 9, 9, 0, 0, K); else plot_line(&c, 0, 0, 9, 9, K);
    for (int y = 0; y < 20; y++)
      for (int x = 0; x < 20; x++) {
        int ink = !is(plot_get(&c, x, y), 255, 255, 255);
        CHECKF(ink == (x == y && x <= 9), "pixel (%d,%d) ink=%d (dir %d)", x, y, ink, dir);
      }
  }
  /* a shallow line: one pixel per column, |dy| rounds the ideal line */
  plot_fill(&c, Wh);
  plot_line(&c, 0, 0, 10, 2, K);
  CHECK_EQ_INT(count_ink(&c), 11);
  for (int x = 0; x <= 10; x++) {
    int y_ideal = (int)((x * 2 + 5) / 10); /* round(x/5) */
    CHECKF(is(plot_get(&c, x, y_ideal), 0, 0, 0), "column %d: expected y=%d", x, y_ideal);
  }
  /* width 3: three parallel rows; dashed 2 on 2: half of the pixels */
  plot_fill(&c, Wh);
  plot_pen pen = {K, 3, 0, 0};
  plot_line_pen(&c, 2, 10, 17, 10, &pen);
  CHECK_EQ_INT(count_ink(&c), 48);
  CHECK(is(plot_get(&c, 5, 9), 0, 0, 0) && is(plot_get(&c, 5, 11), 0, 0, 0) && is(plot_get(&c, 5, 12), 255, 255, 255));
  plot_fill(&c, Wh);
  plot_pen dash = {K, 1, 2, 2};
  plot_line_pen(&c, 0, 3, 15, 3, &dash);
  CHECK_EQ_INT(count_ink(&c), 8);
  CHECK(is(plot_get(&c, 0, 3), 0, 0, 0) && is(plot_get(&c, 1, 3), 0, 0, 0) && is(plot_get(&c, 2, 3), 255, 255, 255));
  /* alpha blending: 50% black over white */
  plot_fill(&c, Wh);
  plot_pixel(&c, 1, 1, (plot_rgba){0, 0, 0, 128});
  CHECK(is(plot_get(&c, 1, 1), 127, 127, 127));
  plot_canvas_free(&ctx, &c);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

/* Drawing far outside a canvas embedded between guard bytes touches only the canvas. */
static void test_clipping(void) {
  enum { W = 10, H = 8, GUARD = 4096 };
  uint8_t *mem = malloc(GUARD * 2 + W * H * 3);
  memset(mem, 0xAB, GUARD * 2 + W * H * 3);
  plot_canvas c = {W, H, W * 3, mem + GUARD};
  plot_fill(&c, Wh);
  plot_line(&c, -1000, -500, 2000, 300, K);
  plot_line(&c, 5, -1000000, 5, 1000000, K);          /* clipped first, then drawn */
  plot_line(&c, -3, -3, -40, 50, K);                  /* entirely outside */
  plot_line(&c, 20, 4, 9, 4, K);                      /* enters from the right edge */
  plot_pen fat = {K, 9, 0, 0};
  plot_line_pen(&c, -5, 0, 15, 0, &fat);
  plot_disc(&c, 0, 0, 30, (plot_rgba){10, 20, 30, 255});
  plot_fill_rect(&c, -100, -100, 100, 2, K);
  plot_rect(&c, -5, -5, 50, 50, K);
  plot_text(&c, -7, -3, "Hello, world", K, 3);
  plot_text_up(&c, 9, 4, "vertical", K, 2);
  plot_circle(&c, 100000, 100000, 5, K);
  for (int i = 0; i < GUARD; i++) {
    CHECKF(mem[i] == 0xAB, "guard before the canvas overwritten at %d", i);
    CHECKF(mem[GUARD + W * H * 3 + i] == 0xAB, "guard after the canvas overwritten at %d", i);
  }
  /* and the in-canvas parts were drawn: fresh canvas, a vertical line through it */
  plot_fill(&c, Wh);
  plot_line(&c, 5, -1000000, 5, 1000000, K);
  for (int y = 0; y < H; y++) CHECKF(is(plot_get(&c, 5, y), 0, 0, 0), "row %d of the vertical line", y);
  CHECK_EQ_INT(count_ink(&c), H);
  plot_fill(&c, Wh);
  plot_line(&c, 20, 4, 9, 4, K);
  CHECK_EQ_INT(count_ink(&c), 1);
  CHECK(is(plot_get(&c, 9, 4), 0, 0, 0));
  free(mem);
}

static void test_rect_and_disc(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  plot_canvas c;
  CHECK(plot_canvas_new(&ctx, &c, 30, 30, Wh) == 0);
  plot_rect(&c, 2, 3, 11, 8, K); /* 10 x 6 outline */
  CHECK_EQ_INT(count_ink(&c), 2 * (10 + 6) - 4);
  CHECK(is(plot_get(&c, 2, 3), 0, 0, 0) && is(plot_get(&c, 11, 8), 0, 0, 0) && is(plot_get(&c, 5, 5), 255, 255, 255));
  plot_fill(&c, Wh);
  plot_fill_rect(&c, 11, 8, 2, 3, K); /* corners in any order */
  CHECK_EQ_INT(count_ink(&c), 60);
  plot_fill(&c, Wh);
  plot_disc(&c, 15, 15, 0, K);
  CHECK_EQ_INT(count_ink(&c), 1);
  plot_fill(&c, Wh);
  plot_disc(&c, 15, 15, 2, K); /* dx²+dy² <= 6: 1 + 4 + 4 + 4 + 8 = 21 pixels */
  CHECK_EQ_INT(count_ink(&c), 21);
  CHECK(is(plot_get(&c, 17, 16), 0, 0, 0) && is(plot_get(&c, 17, 17), 255, 255, 255));
  plot_fill(&c, Wh);
  plot_circle(&c, 15, 15, 2, K); /* 21 minus the r=1 disc (dx²+dy² <= 2: 9 pixels) */
  CHECK_EQ_INT(count_ink(&c), 12);
  plot_canvas_free(&ctx, &c);
  ctx_free(&ctx);
}

static void test_font(void) {
  static const char *A[7] = {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"};
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  plot_canvas c;
  CHECK(plot_canvas_new(&ctx, &c, 40, 20, Wh) == 0);
  CHECK_EQ_INT(plot_text(&c, 1, 2, "A", K, 1), 5);
  for (int y = 0; y < 20; y++)
    for (int x = 0; x < 40; x++) {
      int want = x >= 1 && x < 6 && y >= 2 && y < 9 && A[y - 2][x - 1] == '#';
      CHECKF((!is(plot_get(&c, x, y), 255, 255, 255)) == want, "'A' pixel (%d,%d)", x, y);
    }
  /* scale 2: each font pixel a 2x2 block; '1' has its stem in column 2 */
  plot_fill(&c, Wh);
  CHECK_EQ_INT(plot_text(&c, 0, 0, "1", K, 2), 10);
  for (int y = 2; y < 12; y++) CHECK(is(plot_get(&c, 4, y), 0, 0, 0) && is(plot_get(&c, 5, y), 0, 0, 0));
  CHECK(is(plot_get(&c, 0, 2), 255, 255, 255) && is(plot_get(&c, 2, 2), 0, 0, 0)); /* the flag */
  /* rotated: 'L' read bottom to top has its stem along the bottom row */
  plot_fill(&c, Wh);
  plot_text_up(&c, 10, 10, "L", K, 1); /* box 7 wide x 5 tall centred on (10,10): x 7..13, y 8..12 */
  CHECK_EQ_INT(count_ink(&c), 11);
  for (int x = 7; x <= 13; x++) CHECKF(is(plot_get(&c, x, 12), 0, 0, 0), "stem at x=%d", x);
  for (int y = 8; y <= 12; y++) CHECKF(is(plot_get(&c, 13, y), 0, 0, 0), "foot at y=%d", y);
  /* the table: 95 glyphs, space blank, every other glyph inked and unlike the others */
  CHECK(plot_glyph(31) == NULL && plot_glyph(127) == NULL);
  CHECK(strspn(plot_glyph(' '), ".") == 40);
  for (int a = 33; a <= 126; a++) {
    CHECKF(strlen(plot_glyph(a)) == 40 && strspn(plot_glyph(a), ".#") == 40, "glyph %c malformed", a);
    /* only the descenders use the 8th row */
    CHECKF((strchr(plot_glyph(a) + 35, '#') != NULL) == (strchr("gjpqy,;", a) != NULL), "glyph %c row 8", a);
    CHECKF(strchr(plot_glyph(a), '#') != NULL, "glyph %c blank", a);
    for (int b = a + 1; b <= 126; b++) CHECKF(strcmp(plot_glyph(a), plot_glyph(b)), "glyphs %c and %c identical", a, b);
  }
  CHECK_EQ_INT(plot_text_width("12.5", 2), (4 * 6 - 1) * 2);
  plot_canvas_free(&ctx, &c);
  ctx_free(&ctx);
}

static double lum(plot_rgba p) { return 0.2126 * p.r + 0.7152 * p.g + 0.0722 * p.b; }

static void test_colour_maps(void) {
  /* end points of the published maps (roma reversed: blue low, brown high; viridis) */
  CHECK(is(plot_cmap_at(PLOT_CMAP_VEL, 0), 3, 49, 152));
  CHECK(is(plot_cmap_at(PLOT_CMAP_VEL, 1), 126, 23, 0));
  CHECK(is(plot_cmap_at(PLOT_CMAP_SEQ, 0), 68, 1, 84));
  CHECK(is(plot_cmap_at(PLOT_CMAP_SEQ, 1), 251, 231, 35));
  CHECK(is(plot_cmap_at(PLOT_CMAP_SEQ_R, 0), 251, 231, 35));
  CHECK(is(plot_cmap_at(PLOT_CMAP_GRAY, 0.5), 128, 128, 128));
  CHECK(is(plot_cmap_at(PLOT_CMAP_GRAY, -3), 0, 0, 0) && is(plot_cmap_at(PLOT_CMAP_GRAY, 7), 255, 255, 255));
  /* viridis brightens monotonically; roma is lightest at its centre */
  for (int k = 1; k <= 64; k++) CHECK(lum(plot_cmap_at(PLOT_CMAP_SEQ, k / 64.0)) > lum(plot_cmap_at(PLOT_CMAP_SEQ, (k - 1) / 64.0)));
  double mid = lum(plot_cmap_at(PLOT_CMAP_VEL, 0.5));
  CHECK(mid > 200 && mid > lum(plot_cmap_at(PLOT_CMAP_VEL, 0.25)) + 30 && mid > lum(plot_cmap_at(PLOT_CMAP_VEL, 0.75)) + 30);
  /* the NaN colour is far from every colour of its map */
  /* terrain: matplotlib's _terrain_data stops (0.2,0.2,0.6) at 0, (0,0.6,1) at 0.15, (1,1,0.6)
   * at 0.5, white at 1, times 255 */
  CHECK(is(plot_cmap_at(PLOT_CMAP_TERRAIN, 0), 51, 51, 153));
  CHECK(is(plot_cmap_at(PLOT_CMAP_TERRAIN, 0.15), 0, 153, 255));
  CHECK(is(plot_cmap_at(PLOT_CMAP_TERRAIN, 0.5), 255, 255, 153));
  CHECK(is(plot_cmap_at(PLOT_CMAP_TERRAIN, 1), 255, 255, 255));
  CHECK(is(plot_cmap_at(PLOT_CMAP_TERRAIN, 0.625), 191, 173, 119)); /* halfway (1,1,.6)-(.5,.36,.33) */
  for (int m = 0; m < PLOT_CMAP_N; m++) {
    plot_rgba nanc = plot_cmap_nan((plot_cmap)m);
    for (int k = 0; k < 256; k++) {
      plot_rgba c = plot_cmap_at((plot_cmap)m, k / 255.0);
      int d = abs(c.r - nanc.r) + abs(c.g - nanc.g) + abs(c.b - nanc.b);
      CHECKF(d >= 40, "map %d level %d too close to the NaN colour (%d)", m, k, d);
    }
  }
  plot_lut l;
  plot_lut_init(&l, PLOT_CMAP_VEL, -10, 10);
  CHECK(same(plot_lut_color(&l, -10), plot_cmap_at(PLOT_CMAP_VEL, 0)));
  CHECK(same(plot_lut_color(&l, -1e9), plot_cmap_at(PLOT_CMAP_VEL, 0)));
  CHECK(same(plot_lut_color(&l, 10), plot_cmap_at(PLOT_CMAP_VEL, 1)));
  CHECK(same(plot_lut_color(&l, 0), plot_cmap_at(PLOT_CMAP_VEL, 128 / 255.0)));
  CHECK(same(plot_lut_color(&l, NAN), plot_cmap_nan(PLOT_CMAP_VEL)));
  CHECK(same(plot_lut_color(&l, INFINITY), plot_cmap_nan(PLOT_CMAP_VEL)));
  plot_cmap m;
  CHECK(plot_cmap_parse("seq_r", &m) == 0 && m == PLOT_CMAP_SEQ_R);
  CHECK(plot_cmap_parse("terrain", &m) == 0 && m == PLOT_CMAP_TERRAIN && !strcmp(plot_cmap_name(m), "terrain"));
  CHECK(plot_cmap_parse("jet", &m) != 0);
}

/* numpy.nanpercentile by hand: sorted values s, position p/100·(n−1), linear interpolation. */
static void test_percentiles(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 1) == 0);
  enum { W = 37, L = 29 };
  float *v = malloc(sizeof(float) * W * L);
  /* values 0..999 scattered by a permutation, the rest NaN, plus one outlier of 1e6 */
  for (int i = 0; i < W * L; i++) v[i] = NAN;
  for (int k = 0; k < 1000; k++) v[(k * 389) % (W * L)] = (float)k;
  int free_slot = -1;
  for (int i = 0; i < W * L && free_slot < 0; i++) if (isnan(v[i])) free_slot = i;
  CHECK(free_slot >= 0);
  plot_mem_raster mr;
  plot_source src;
  plot_source_mem(&src, &mr, v, W, L, W);
  double pct[4] = {1, 99, 50, 0}, out[4];
  uint64_t n;
  CHECK(plot_percentiles(&ctx, &src, 1, 4, pct, out, &n) == 0);
  CHECK_EQ_INT(n, 1000);
  CHECK_NEAR(out[0], 9.99, 1e-9);    /* position 9.99 between 9 and 10 */
  CHECK_NEAR(out[1], 989.01, 1e-9);
  CHECK_NEAR(out[2], 499.5, 1e-9);
  CHECK_NEAR(out[3], 0, 0);
  v[free_slot] = 1e6f; /* n = 1001: p1 at position 10 -> 10, p99 at 990 -> 990; bins 244 wide */
  CHECK(plot_percentiles(&ctx, &src, 1, 2, pct, out, &n) == 0);
  CHECK_EQ_INT(n, 1001);
  CHECK_NEAR(out[0], 10, 1e-9);
  CHECK_NEAR(out[1], 990, 1e-9);
  CHECK(plot_percentiles(&ctx, &src, -2, 2, pct, out, &n) == 0); /* scale flips the order */
  CHECK_NEAR(out[0], -1980, 1e-9);
  CHECK_NEAR(out[1], -20, 1e-9);
  double lo, hi;
  CHECK(plot_auto_range(&ctx, &src, -2, PLOT_CMAP_VEL, &lo, &hi) == 0);
  CHECK_NEAR(lo, -1980, 1e-9);
  CHECK_NEAR(hi, 1980, 1e-9);
  CHECK(plot_auto_range(&ctx, &src, 1, PLOT_CMAP_SEQ, &lo, &hi) == 0);
  CHECK_NEAR(lo, 10, 1e-9);
  CHECK_NEAR(hi, 990, 1e-9);
  for (int i = 0; i < W * L; i++) v[i] = NAN;
  CHECK(plot_percentiles(&ctx, &src, 1, 2, pct, out, &n) == 0);
  CHECK(n == 0 && isnan(out[0]));
  for (int i = 0; i < W * L; i++) v[i] = 3.5f;
  CHECK(plot_auto_range(&ctx, &src, 1, PLOT_CMAP_SEQ, &lo, &hi) == 0);
  CHECK(lo == 2.5 && hi == 3.5); /* LiCSBAS: cmin = cmax − 1 */
  CHECK_EQ_INT(ctx.budget->used, 0);
  free(v);
  ctx_free(&ctx);
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Random floats of mixed signs and magnitudes (with NaN and Inf to skip) against a sort. */
static void test_percentiles_exact_vs_sort(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  enum { W = 173, L = 131 };
  float *v = malloc(sizeof(float) * W * L), *sorted = malloc(sizeof(float) * W * L);
  uint32_t s = 99;
  int n = 0;
  for (int i = 0; i < W * L; i++) {
    s = s * 1664525u + 1013904223u;
    double u = (s >> 8) / 16777216.0;
    v[i] = (float)((u - 0.3) * pow(10, (int)(s % 7) - 3));
    if (s % 53 == 0) v[i] = NAN;
    if (s % 97 == 0) v[i] = (s & 1) ? INFINITY : -INFINITY;
    if (isfinite(v[i])) sorted[n++] = v[i];
  }
  qsort(sorted, (size_t)n, sizeof *sorted, cmp_f);
  plot_mem_raster mr;
  plot_source src;
  plot_source_mem(&src, &mr, v, W, L, W);
  const double pct[8] = {0, 1, 37.5, 50, 62.25, 99, 99.9, 100};
  for (int half = 0; half < 2; half++)
    for (int sc = 0; sc < 2; sc++) {
      double scale = sc ? -2.5 : 1, out[4];
      uint64_t nv;
      CHECK(plot_percentiles(&ctx, &src, scale, 4, pct + 4 * half, out, &nv) == 0);
      CHECK_EQ_INT(nv, n);
      for (int i = 0; i < 4; i++) {
        /* numpy linear interpolation on the scaled, sorted values */
        double p = pct[4 * half + i], pos = p / 100 * (n - 1);
        int k = (int)floor(pos);
        double f = pos - k;
        double a = sorted[sc ? n - 1 - k : k] * scale;
        double b = sorted[sc ? (k + 1 < n ? n - 2 - k : n - 1 - k) : (k + 1 < n ? k + 1 : k)] * scale;
        double want = a + (b - a) * f;
        CHECKF(fabs(out[i] - want) <= 1e-12 * (fabs(want) + 1e-30), "p%g scale %g: %.17g vs %.17g", p, scale, out[i], want);
      }
    }
  CHECK_EQ_INT(ctx.budget->used, 0);
  free(v);
  free(sorted);
  ctx_free(&ctx);
}

static plot_rgba px_at(const uint8_t *img, uint32_t w, int x, int y) {
  const uint8_t *p = img + ((size_t)y * w + (size_t)x) * 3;
  plot_rgba o = {p[0], p[1], p[2], 255};
  return o;
}

/* A city-AOI-sized raster (324 x 216, shown 2x): thirds at vmin, NaN, vmax, a band at the
 * midpoint; checked in the decoded PNG at known places. */
static void test_quicklook_known_pattern(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  enum { W = 324, L = 216 };
  float *v = malloc(sizeof(float) * W * L);
  for (int y = 0; y < L; y++)
    for (int x = 0; x < W; x++)
      v[y * W + x] = y >= 200 ? 0.0f : x < 108 ? -20.0f : x < 216 ? NAN : 20.0f;
  plot_mem_raster mr;
  plot_source src;
  plot_source_mem(&src, &mr, v, W, L, W);
  plot_ql_opts o = {"Velocity test", "mm/yr", -20, 20, PLOT_CMAP_VEL, 1, 0, 0};
  plot_ql_info in;
  const char *p = check_path("ql_pattern.png");
  CHECKF(plot_quicklook(&ctx, p, &o, &src, &in) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(in.enlarge, 2);
  CHECK_EQ_INT(in.reduce, 1);
  CHECK_EQ_INT(in.map_w, 648);
  CHECK_EQ_INT(in.map_h, 432);
  CHECK_EQ_INT(in.n_nodata, 108 * 200);
  uint32_t w, h; int ch;
  uint8_t *img = pngck_decode(p, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL && ch == 3);
  plot_rgba lo = plot_cmap_at(PLOT_CMAP_VEL, 0), hi = plot_cmap_at(PLOT_CMAP_VEL, 1),
            nanc = plot_cmap_nan(PLOT_CMAP_VEL), mid = plot_cmap_at(PLOT_CMAP_VEL, 128 / 255.0);
  /* every displayed pixel of each region, both copies of the 2x enlargement */
  for (int y = 0; y < L; y++)
    for (int x = 0; x < W; x++) {
      plot_rgba want = y >= 200 ? mid : x < 108 ? lo : x < 216 ? nanc : hi;
      for (int j = 0; j < 4; j++) {
        plot_rgba got = px_at(img, w, in.map_x + 2 * x + (j & 1), in.map_y + 2 * y + (j >> 1));
        CHECKF(same(got, want), "source (%d,%d) copy %d: %d,%d,%d", x, y, j, got.r, got.g, got.b);
      }
    }
  /* frame just outside the map, the colour bar's extremes, the no-data swatch */
  CHECK(is(px_at(img, w, in.map_x - 1, in.map_y + 10), 0, 0, 0));
  CHECK(is(px_at(img, w, in.map_x + in.map_w, in.map_y + 10), 0, 0, 0));
  CHECK(same(px_at(img, w, in.bar_x + in.bar_w / 2, in.bar_y), hi));
  CHECK(same(px_at(img, w, in.bar_x + in.bar_w / 2, in.bar_y + in.bar_h - 1), lo));
  CHECK(same(px_at(img, w, in.nodata_x, in.nodata_y), nanc));
  free(img);
  CHECK_EQ_INT(ctx.budget->used, 0);
  free(v);
  ctx_free(&ctx);
}

/* A 2700 x 2200 frame generated row block by row block (never held whole), box-averaged 1:4,
 * under a budget smaller than the full-resolution raster (23.8 MB). */
typedef struct { uint32_t calls, max_rows; } gen_state;
static float gen_value(uint32_t x, uint32_t y) {
  uint32_t bx = x / 4, by = y / 4;
  if (bx == 10 && by == 10) return (x % 4) * 4 + (y % 4) < 9 ? NAN : 1.0f;  /* 9 of 16 NaN */
  if (bx == 11 && by == 10) return (x % 4) * 4 + (y % 4) < 8 ? NAN : 30.0f; /* 8 of 16 NaN */
  /* block mean = (bx + by) mod 50, with a ±1.5 ramp inside each block */
  return (float)((bx + by) % 50) + ((float)(x % 4) - 1.5f);
}
static int gen_read(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride) {
  gen_state *g = ud;
  g->calls++;
  if (ny > g->max_rows) g->max_rows = ny;
  for (uint32_t r = 0; r < ny; r++)
    for (uint32_t x = 0; x < 2700; x++) dst[r * stride + x] = gen_value(x, y0 + r);
  return 0;
}

static void test_quicklook_streaming_big_frame(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 6 << 20, 1) == 0);
  gen_state g = {0, 0};
  plot_source src = {2700, 2200, gen_read, &g};
  plot_ql_opts o = {"Noise index", "", 0, 49, PLOT_CMAP_SEQ, 1, 0, 0};
  plot_ql_info in;
  const char *p = check_path("ql_big.png");
  CHECKF(plot_quicklook(&ctx, p, &o, &src, &in) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(in.reduce, 4);
  CHECK_EQ_INT(in.map_w, 675);
  CHECK_EQ_INT(in.map_h, 550);
  CHECKF(ctx.budget->peak < (uint64_t)4.5e6, "peak %.1f MB", ctx.budget->peak / 1e6);
  CHECKF(g.max_rows * 2700.0 * 4 <= 1.1e6, "blocks of %u rows", g.max_rows);
  uint32_t w, h; int ch;
  uint8_t *img = pngck_decode(p, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL);
  plot_lut l;
  plot_lut_init(&l, PLOT_CMAP_SEQ, 0, 49);
  int checks[][2] = {{0, 0}, {3, 7}, {100, 200}, {674, 549}, {500, 20}, {9, 10}};
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    int bx = checks[i][0], by = checks[i][1];
    plot_rgba want = plot_lut_color(&l, (bx + by) % 50);
    CHECKF(same(px_at(img, w, in.map_x + bx, in.map_y + by), want), "block (%d,%d)", bx, by);
  }
  CHECK(same(px_at(img, w, in.map_x + 10, in.map_y + 10), plot_cmap_nan(PLOT_CMAP_SEQ)));  /* > half NaN */
  CHECK(same(px_at(img, w, in.map_x + 11, in.map_y + 10), plot_lut_color(&l, 30)));     /* half NaN */
  CHECK_EQ_INT(in.n_nodata, 1);
  free(img);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

/* Automatic range for the velocity map: symmetric 1st/99th percentiles. */
static void test_quicklook_auto_range(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  enum { W = 100, L = 100 };
  float *v = malloc(sizeof(float) * W * L);
  for (int i = 0; i < W * L; i++) v[i] = (float)(i % 1000) * 0.01f - 2.0f; /* -2 .. 7.99 */
  plot_mem_raster mr;
  plot_source src;
  plot_source_mem(&src, &mr, v, W, L, W);
  plot_ql_opts o = {"auto", "mm/yr", NAN, NAN, PLOT_CMAP_VEL, 1, 0, 0};
  plot_ql_info in;
  CHECKF(plot_quicklook(&ctx, check_path("ql_auto.png"), &o, &src, &in) == 0, "%s", ctx.msg);
  /* 10000 values, each of the 1000 levels 10 times: p99 at position 9899.01 lies between
   * sorted elements 9899 (level 989) and 9900 (level 990); |p1| ~ 1.9 is smaller */
  double v989 = (double)(989 * 0.01f - 2.0f), v990 = (double)(990 * 0.01f - 2.0f), lo, hi;
  CHECK(plot_auto_range(&ctx, &src, 1, PLOT_CMAP_VEL, &lo, &hi) == 0);
  CHECK_NEAR(hi, v989 + 0.01 * (v990 - v989), 1e-9);
  CHECK_NEAR(lo, -hi, 0);
  /* the quicklook widens 7.89 to the round 8 */
  CHECK_NEAR(in.vmax, 8, 1e-12);
  CHECK_NEAR(in.vmin, -8, 1e-12);
  /* sequential: p1..p99 = -1.9001 .. 7.8901, ticks every 2 -> multiples of 1: -2 .. 8 */
  o.cmap = PLOT_CMAP_SEQ;
  CHECKF(plot_quicklook(&ctx, check_path("ql_auto2.png"), &o, &src, &in) == 0, "%s", ctx.msg);
  CHECK_NEAR(in.vmin, -2, 1e-12);
  CHECK_NEAR(in.vmax, 8, 1e-12);
  free(v);
  ctx_free(&ctx);
}

/* Terrain's automatic range is LiCSBAS02's DEM range −p99/3 .. p99 (p99 rounded up). */
static void test_terrain_auto_range(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  enum { N = 101 };
  float v[N];
  for (int i = 0; i < N; i++) v[i] = (float)(10 * i); /* 0 .. 1000: p99 = 990 */
  plot_mem_raster mr;
  plot_source src;
  plot_source_mem(&src, &mr, v, N, 1, N);
  double a, b;
  CHECK(plot_auto_range(&ctx, &src, 1, PLOT_CMAP_TERRAIN, &a, &b) == 0);
  CHECK_NEAR(b, 990, 1e-9);
  CHECK_NEAR(a, -330, 1e-9);
  plot_ql_opts o = {"DEM", "m", NAN, NAN, PLOT_CMAP_TERRAIN, 1, 0, 0};
  plot_ql_info in;
  CHECKF(plot_quicklook(&ctx, check_path("ql_dem.png"), &o, &src, &in) == 0, "%s", ctx.msg);
  CHECK_NEAR(in.vmax, 1000, 1e-9);
  CHECK_NEAR(in.vmin, -1000.0 / 3, 1e-9);
  ctx_free(&ctx);
}

/* The painter fed one row at a time gives the same picture as fed whole (box means over
 * reduce rows kept across calls); the colour bar's end rows are the lut's end levels. */
static void test_painter_and_colorbar(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  enum { W = 30, L = 23 };
  float v[W * L];
  for (int i = 0; i < W * L; i++) v[i] = (float)((i * 7919) % 101);
  v[0] = v[1] = v[W] = NAN; /* 3 of the first 3x3 box's 9: a colour */
  plot_fit fit;
  plot_fit_map(W, L, 10, 10, &fit);
  CHECK_EQ_INT(fit.reduce, 3);
  CHECK_EQ_INT(fit.map_w, 10);
  CHECK_EQ_INT(fit.map_h, 8);
  plot_lut lut;
  plot_lut_init(&lut, PLOT_CMAP_SEQ, 0, 100);
  plot_canvas c[2];
  double acc[2][64];
  CHECK(plot_canvas_new(&ctx, &c[0], 60, 40, Wh) == 0 && plot_canvas_new(&ctx, &c[1], 60, 40, Wh) == 0);
  CHECK(plot_painter_bytes(&fit, W) <= sizeof acc[0]);
  plot_painter p[2];
  for (int k = 0; k < 2; k++) plot_painter_init(&p[k], &c[k], &lut, &fit, W, L, 2, 3, 1, acc[k]);
  plot_painter_rows(&p[0], v, L, W);
  for (int y = 0; y < L; y++) plot_painter_rows(&p[1], v + y * W, 1, W);
  CHECK(memcmp(c[0].px, c[1].px, c[0].stride * c[0].h) == 0);
  /* map pixel (1, 2): mean of the box x 3..5, y 6..8 */
  double sum = 0;
  for (int y = 6; y < 9; y++)
    for (int x = 3; x < 6; x++) sum += v[y * W + x];
  CHECK(same(plot_get(&c[0], 2 + 1, 3 + 2), plot_lut_color(&lut, sum / 9)));
  /* the last map row holds 2 source rows (21, 22) */
  sum = v[21 * W] + v[21 * W + 1] + v[21 * W + 2] + v[22 * W] + v[22 * W + 1] + v[22 * W + 2];
  CHECK(same(plot_get(&c[0], 2, 3 + 7), plot_lut_color(&lut, sum / 6)));
  CHECK(!same(plot_get(&c[0], 2, 3), lut.nan));
  CHECK_EQ_INT(p[0].n_nan, 0);
  /* colour bar: top row vmax, bottom row vmin, frame; ticks labelled to the right */
  int bw = plot_colorbar(&c[1], 40, 2, 5, 30, &lut, 1, 3);
  CHECK(same(plot_get(&c[1], 42, 2), lut.level[255]));
  CHECK(same(plot_get(&c[1], 42, 31), lut.level[0]));
  CHECK(is(plot_get(&c[1], 39, 10), 0, 0, 0) && is(plot_get(&c[1], 45, 10), 0, 0, 0));
  CHECK(bw > 5 + 8);
  plot_canvas_free(&ctx, &c[0]);
  plot_canvas_free(&ctx, &c[1]);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

static void test_network(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  /* 8 epochs at 12 days from 2019-11-20 (crossing a year), a gap between epochs 3 and 4,
   * epoch 6 only in a bad ifg; bad ifg (5,7) bridges it */
  int32_t ymd[8] = {20191120, 20191202, 20191214, 20191226, 20200107, 20200119, 20200131, 20200212};
  double bp[8] = {0, 35.5, -20, 60, 10, -45, 5, 20};
  int32_t prim[9] = {0, 0, 1, 1, 2, 4, 4, 5, 5}, sec[9] = {1, 2, 2, 3, 3, 5, 7, 6, 7};
  uint8_t bad[9] = {0, 0, 0, 0, 0, 0, 0, 1, 0};
  plot_net n = {8, ymd, bp, 9, prim, sec, bad, 1, "Network test"};
  int gaps = -1;
  const char *p = check_path("network.png");
  CHECKF(plot_network(&ctx, p, &n, &gaps) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(gaps, 1);
  uint32_t w, h; int ch;
  uint8_t *img = pngck_decode(p, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL);
  CHECK_EQ_INT(w, 700); /* 84 days: 305 px, clamped to the minimum width */
  CHECK_EQ_INT(h, 600);
  int blue = 0, red = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) {
    const uint8_t *q = img + 3 * i;
    blue += q[2] > q[0] + 80 && q[2] > q[1] + 80;
    red += q[0] > q[1] + 80 && q[0] > q[2] + 80;
  }
  CHECKF(blue > 300 && red > 30, "blue %d red %d", blue, red);
  free(img);
  /* without the bad ones: no red at all; an extra bad-only epoch creates no second gap */
  n.plot_bad = 0;
  CHECK(plot_network(&ctx, p, &n, &gaps) == 0);
  CHECK_EQ_INT(gaps, 1);
  img = pngck_decode(p, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL);
  red = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) {
    const uint8_t *q = img + 3 * i;
    red += q[0] > q[1] + 80 && q[0] > q[2] + 80;
  }
  CHECK_EQ_INT(red, 0);
  free(img);
  bad[8] = 1; /* now 5-7 is bad too: epochs 5..7 split -> gaps after 4-5? (4,5),(4,7) good */
  CHECK(plot_network(&ctx, p, &n, &gaps) == 0);
  CHECK_EQ_INT(gaps, 1);
  bad[6] = 1; /* (4,7) bad: epoch 7 unused, 6 unused; used 0..5: gap 3|4 only */
  CHECK(plot_network(&ctx, p, &n, &gaps) == 0);
  CHECK_EQ_INT(gaps, 1);
  bad[5] = 1; /* (4,5) bad too: used epochs 0..3 only */
  CHECK(plot_network(&ctx, p, &n, &gaps) == 0);
  CHECK_EQ_INT(gaps, 0);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_line_diagonal);
  RUN(test_clipping);
  RUN(test_rect_and_disc);
  RUN(test_font);
  RUN(test_colour_maps);
  RUN(test_percentiles);
  RUN(test_percentiles_exact_vs_sort);
  RUN(test_quicklook_known_pattern);
  RUN(test_quicklook_streaming_big_frame);
  RUN(test_quicklook_auto_range);
  RUN(test_terrain_auto_range);
  RUN(test_painter_and_colorbar);
  RUN(test_network);
  return check_done();
}
