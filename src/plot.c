/* plot.c — raster canvas, bitmap font, colour maps, quicklooks and the network plot
 * (see include/cbas/plot.h). Everything is drawn by this file into an RGB buffer and written
 * by png.c. */
#include "cbas/plot.h"
#include "cbas/budget.h"
#include "cbas/png.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- canvas ---------------------------------------------------------------------------- */

int plot_canvas_new(cbas_ctx *ctx, plot_canvas *c, uint32_t w, uint32_t h, plot_rgba bg) {
  memset(c, 0, sizeof *c);
  if (!w || !h) return ctx_fail(ctx, CBAS_EINTERNAL, "plot canvas of size %ux%u", w, h);
  c->px = budget_alloc(ctx, (size_t)w * h * 3, "plot canvas");
  if (!c->px) return ctx->status;
  c->w = w;
  c->h = h;
  c->stride = (size_t)w * 3;
  plot_fill(c, bg);
  return 0;
}

void plot_canvas_free(cbas_ctx *ctx, plot_canvas *c) {
  if (c->px) budget_free(ctx, c->px);
  memset(c, 0, sizeof *c);
}

int plot_canvas_write_png(cbas_ctx *ctx, const plot_canvas *c, const char *path, const char *title) {
  png_opts o = {c->w, c->h, 3, 0, PNG_FILTER_ADAPTIVE, title};
  png_writer *w;
  if (png_open(ctx, path, &o, &w)) return ctx->status;
  if (png_write_rows(ctx, w, c->h, c->px, c->stride)) { png_abort(ctx, w); return ctx->status; }
  return png_commit(ctx, w);
}

void plot_fill(plot_canvas *c, plot_rgba col) {
  for (uint32_t y = 0; y < c->h; y++) {
    uint8_t *p = c->px + y * c->stride;
    for (uint32_t x = 0; x < c->w; x++, p += 3) { p[0] = col.r; p[1] = col.g; p[2] = col.b; }
  }
}

static uint8_t mix(uint8_t src, uint8_t dst, unsigned a) {
  return (uint8_t)((src * a + dst * (255u - a) + 127u) / 255u);
}

void plot_pixel(plot_canvas *c, int x, int y, plot_rgba col) {
  if (x < 0 || y < 0 || (uint32_t)x >= c->w || (uint32_t)y >= c->h || !col.a) return;
  uint8_t *p = c->px + (size_t)y * c->stride + (size_t)x * 3;
  if (col.a == 255) { p[0] = col.r; p[1] = col.g; p[2] = col.b; return; }
  p[0] = mix(col.r, p[0], col.a);
  p[1] = mix(col.g, p[1], col.a);
  p[2] = mix(col.b, p[2], col.a);
}

plot_rgba plot_get(const plot_canvas *c, int x, int y) {
  plot_rgba o = {0, 0, 0, 0};
  if (x < 0 || y < 0 || (uint32_t)x >= c->w || (uint32_t)y >= c->h) return o;
  const uint8_t *p = c->px + (size_t)y * c->stride + (size_t)x * 3;
  o.r = p[0]; o.g = p[1]; o.b = p[2]; o.a = 255;
  return o;
}

/* Liang–Barsky clip of the segment to [lo, hi] in both axes (doubles); 0 if nothing is left. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo, double hix, double hiy) {
  double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
  double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - lo, hix - *x0, *y0 - lo, hiy - *y0};
  for (int i = 0; i < 4; i++) {
    if (p[i] == 0) { if (q[i] < 0) return 0; continue; }
    double r = q[i] / p[i];
    if (p[i] < 0) { if (r > t1) return 0; if (r > t0) t0 = r; }
    else { if (r < t0) return 0; if (r < t1) t1 = r; }
  }
  double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
  *x0 = ax; *y0 = ay; *x1 = bx; *y1 = by;
  return 1;
}

void plot_line_pen(plot_canvas *c, int x0, int y0, int x1, int y1, const plot_pen *pen) {
  /* End points far outside are first clipped (to a margin around the canvas, so lines that
   * merely cross an edge keep their exact Bresenham pixels); every pixel is clipped anyway. */
  const long far = 1L << 14;
  long W = (long)c->w, H = (long)c->h;
  if ((x0 < -far || y0 < -far || x0 > W + far || y0 > H + far) ||
      (x1 < -far || y1 < -far || x1 > W + far || y1 > H + far)) {
    double ax = x0, ay = y0, bx = x1, by = y1;
    if (!clip_segment(&ax, &ay, &bx, &by, -16.0, (double)W + 16, (double)H + 16)) return;
    x0 = (int)lround(ax); y0 = (int)lround(ay); x1 = (int)lround(bx); y1 = (int)lround(by);
  }
  int width = pen->width > 0 ? pen->width : 1;
  long dx = labs((long)x1 - x0), dy = labs((long)y1 - y0);
  int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int xmajor = dx >= dy;
  int period = pen->dash_on > 0 ? pen->dash_on + (pen->dash_off > 0 ? pen->dash_off : 0) : 0;
  for (int k = -(width - 1) / 2; k <= width / 2; k++) {
    long x = x0, y = y0, err = dx - dy, step = 0;
    for (;;) {
      if (!period || step % period < pen->dash_on) {
        if (xmajor) plot_pixel(c, (int)x, (int)(y + k), pen->col);
        else plot_pixel(c, (int)(x + k), (int)y, pen->col);
      }
      if (x == x1 && y == y1) break;
      long e2 = 2 * err;
      if (e2 > -dy) { err -= dy; x += sx; }
      if (e2 < dx) { err += dx; y += sy; }
      step++;
    }
  }
}

void plot_line(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col) {
  plot_pen pen = {col, 1, 0, 0};
  plot_line_pen(c, x0, y0, x1, y1, &pen);
}

static int clampi(long v, long lo, long hi) { return (int)(v < lo ? lo : v > hi ? hi : v); }

void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col) {
  if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
  if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
  if (x1 < 0 || y1 < 0 || (long)x0 >= (long)c->w || (long)y0 >= (long)c->h) return;
  x0 = clampi(x0, 0, (long)c->w - 1); x1 = clampi(x1, 0, (long)c->w - 1);
  y0 = clampi(y0, 0, (long)c->h - 1); y1 = clampi(y1, 0, (long)c->h - 1);
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) plot_pixel(c, x, y, col);
}

void plot_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col) {
  if (x0 > x1) { int t = x0; x0 = x1; x1 = t; }
  if (y0 > y1) { int t = y0; y0 = y1; y1 = t; }
  plot_fill_rect(c, x0, y0, x1, y0, col);
  if (y1 > y0) plot_fill_rect(c, x0, y1, x1, y1, col);
  if (y1 - y0 > 1) {
    plot_fill_rect(c, x0, y0 + 1, x0, y1 - 1, col);
    if (x1 > x0) plot_fill_rect(c, x1, y0 + 1, x1, y1 - 1, col);
  }
}

static void disc_or_ring(plot_canvas *c, int cx, int cy, int r, plot_rgba col, int ring) {
  if (r < 0) return;
  long r2 = (long)r * r + r, in2 = r > 0 ? (long)(r - 1) * (r - 1) + (r - 1) : -1;
  for (int dy = -r; dy <= r; dy++) {
    long y = (long)cy + dy;
    if (y < 0 || y >= (long)c->h) continue;
    for (int dx = -r; dx <= r; dx++) {
      long d2 = (long)dx * dx + (long)dy * dy;
      if (d2 > r2 || (ring && d2 <= in2)) continue;
      plot_pixel(c, cx + dx, (int)y, col);
    }
  }
}
void plot_disc(plot_canvas *c, int cx, int cy, int r, plot_rgba col) { disc_or_ring(c, cx, cy, r, col, 0); }
void plot_circle(plot_canvas *c, int cx, int cy, int r, plot_rgba col) { disc_or_ring(c, cx, cy, r, col, 1); }

/* ---- font ------------------------------------------------------------------------------ */

/* Glyphs of ASCII 32..126 drawn for cbas ('#' = ink): 8 rows of 5 pixels; capitals and digits
 * use rows 0..6, the descenders of g j p q y , ; reach row 7. */
static const char font5x8[95][41] = {
    /* ' ' */ "........................................",
    /* '!' */ "..#....#....#....#....#.........#.......",
    /* '"' */ ".#.#..#.#...............................",
    /* '#' */ ".#.#..#.#.#####.#.#.#####.#.#..#.#......",
    /* '$' */ "..#...#####.#...###...#.#####...#.......",
    /* '%' */ "##...##..#...#...#...#...#..##...##.....",
    /* '&' */ ".##..#..#.#.#...#...#.#.##..#..##.#.....",
    /* ''' */ "..#....#...#............................",
    /* '(' */ "...#...#...#....#....#.....#.....#......",
    /* ')' */ ".#.....#.....#....#....#...#...#........",
    /* '*' */ ".......#..#.#.#.###.#.#.#..#............",
    /* '+' */ ".......#....#..#####..#....#............",
    /* ',' */ "..........................##....#...#...",
    /* '-' */ "...............#####....................",
    /* '.' */ "..........................##...##.......",
    /* '/' */ ".........#...#...#...#...#..............",
    /* '0' */ ".###.#...##..###.#.###..##...#.###......",
    /* '1' */ "..#...##....#....#....#....#...###......",
    /* '2' */ ".###.#...#....#...#...#...#...#####.....",
    /* '3' */ "#####...#...#.....#.....##...#.###......",
    /* '4' */ "...#...##..#.#.#..#.#####...#....#......",
    /* '5' */ "######....####.....#....##...#.###......",
    /* '6' */ "..##..#...#....####.#...##...#.###......",
    /* '7' */ "#####....#...#...#...#....#....#........",
    /* '8' */ ".###.#...##...#.###.#...##...#.###......",
    /* '9' */ ".###.#...##...#.####....#...#..##.......",
    /* ':' */ "......##...##........##...##............",
    /* ';' */ "...........##...##........##....#...#...",
    /* '<' */ "...#...#...#...#.....#.....#.....#......",
    /* '=' */ "..........#####.....#####...............",
    /* '>' */ ".#.....#.....#.....#...#...#...#........",
    /* '?' */ ".###.#...#....#...#...#.........#.......",
    /* '@' */ ".###.#...#....#.##.##.#.##.#.#.###......",
    /* 'A' */ ".###.#...##...#######...##...##...#.....",
    /* 'B' */ "####.#...##...#####.#...##...#####......",
    /* 'C' */ ".###.#...##....#....#....#...#.###......",
    /* 'D' */ "###..#..#.#...##...##...##..#.###.......",
    /* 'E' */ "######....#....####.#....#....#####.....",
    /* 'F' */ "######....#....####.#....#....#.........",
    /* 'G' */ ".###.#...##....#.####...##...#.####.....",
    /* 'H' */ "#...##...##...#######...##...##...#.....",
    /* 'I' */ ".###...#....#....#....#....#...###......",
    /* 'J' */ "..###...#....#....#....#.#..#..##.......",
    /* 'K' */ "#...##..#.#.#..##...#.#..#..#.#...#.....",
    /* 'L' */ "#....#....#....#....#....#....#####.....",
    /* 'M' */ "#...###.###.#.##.#.##...##...##...#.....",
    /* 'N' */ "#...##...###..##.#.##..###...##...#.....",
    /* 'O' */ ".###.#...##...##...##...##...#.###......",
    /* 'P' */ "####.#...##...#####.#....#....#.........",
    /* 'Q' */ ".###.#...##...##...##.#.##..#..##.#.....",
    /* 'R' */ "####.#...##...#####.#.#..#..#.#...#.....",
    /* 'S' */ ".#####....#.....###.....#....#####......",
    /* 'T' */ "#####..#....#....#....#....#....#.......",
    /* 'U' */ "#...##...##...##...##...##...#.###......",
    /* 'V' */ "#...##...##...##...##...#.#.#...#.......",
    /* 'W' */ "#...##...##...##.#.##.#.##.#.#.#.#......",
    /* 'X' */ "#...##...#.#.#...#...#.#.#...##...#.....",
    /* 'Y' */ "#...##...#.#.#...#....#....#....#.......",
    /* 'Z' */ "#####....#...#...#...#...#....#####.....",
    /* '[' */ ".###..#....#....#....#....#....###......",
    /* '\' */ ".....#.....#.....#.....#.....#..........",
    /* ']' */ ".###....#....#....#....#....#..###......",
    /* '^' */ "..#...#.#.#...#.........................",
    /* '_' */ "..............................#####.....",
    /* '`' */ ".#.....#.....#..........................",
    /* 'a' */ "...........###.....#.#####...#.####.....",
    /* 'b' */ "#....#....#.##.##..##...##...#####......",
    /* 'c' */ "...........###.#....#....#...#.###......",
    /* 'd' */ "....#....#.##.##..###...##...#.####.....",
    /* 'e' */ "...........###.#...#######.....###......",
    /* 'f' */ "..##..#..#.#...###...#....#....#........",
    /* 'g' */ "...........#####...##...#.####....#.###.",
    /* 'h' */ "#....#....#.##.##..##...##...##...#.....",
    /* 'i' */ "..#........##....#....#....#...###......",
    /* 'j' */ "...#........##....#....#....#.#..#..##..",
    /* 'k' */ "#....#....#..#.#.#..##...#.#..#..#......",
    /* 'l' */ ".##....#....#....#....#....#...###......",
    /* 'm' */ "..........##.#.#.#.##.#.##...##...#.....",
    /* 'n' */ "..........#.##.##..##...##...##...#.....",
    /* 'o' */ "...........###.#...##...##...#.###......",
    /* 'p' */ "..........####.#...##...#####.#....#....",
    /* 'q' */ "...........#####...##...#.####....#....#",
    /* 'r' */ "..........#.##.##..##....#....#.........",
    /* 's' */ "...........###.#.....###.....#####......",
    /* 't' */ ".#....#...###...#....#....#..#..##......",
    /* 'u' */ "..........#...##...##...##..##.##.#.....",
    /* 'v' */ "..........#...##...##...#.#.#...#.......",
    /* 'w' */ "..........#...##...##.#.##.#.#.#.#......",
    /* 'x' */ "..........#...#.#.#...#...#.#.#...#.....",
    /* 'y' */ "..........#...##...##...#.####....#.###.",
    /* 'z' */ "..........#####...#...#...#...#####.....",
    /* '{' */ "...#...#....#...#.....#....#.....#......",
    /* '|' */ "..#....#....#....#....#....#....#.......",
    /* '}' */ ".#.....#....#.....#...#....#...#........",
    /* '~' */ "...........#...#.#.#...#................",
};

const char *plot_glyph(int ch) { return ch >= 32 && ch <= 126 ? font5x8[ch - 32] : NULL; }

int plot_text_width(const char *s, int scale) {
  size_t n = strlen(s);
  if (scale < 1) scale = 1;
  return n ? (int)(n * PLOT_ADVANCE - 1) * scale : 0;
}

/* Draws glyph ch with font pixel (gx, gy) at canvas (x + gx·s, y + gy·s) unrotated, or rotated
 * 90° counter-clockwise: (x + gy·s, y − gx·s) with y the bottom of the glyph. */
static void draw_glyph(plot_canvas *c, int x, int y, int ch, plot_rgba col, int s, int up) {
  const char *g = plot_glyph(ch);
  if (!g) g = plot_glyph('?');
  for (int gy = 0; gy < PLOT_GLYPH_ROWS; gy++)
    for (int gx = 0; gx < PLOT_GLYPH_W; gx++) {
      if (g[gy * PLOT_GLYPH_W + gx] != '#') continue;
      int px = up ? x + gy * s : x + gx * s, py = up ? y - (gx + 1) * s + 1 : y + gy * s;
      plot_fill_rect(c, px, py, px + s - 1, py + s - 1, col);
    }
}

int plot_text(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale) {
  if (scale < 1) scale = 1;
  for (const char *p = s; *p; p++) draw_glyph(c, x + (int)(p - s) * PLOT_ADVANCE * scale, y, (unsigned char)*p, col, scale, 0);
  return plot_text_width(s, scale);
}

void plot_text_at(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale,
                  int halign, int valign) {
  if (scale < 1) scale = 1;
  int w = plot_text_width(s, scale), h = PLOT_GLYPH_H * scale;
  x -= halign == PLOT_CENTER ? w / 2 : halign == PLOT_RIGHT ? w - 1 : 0;
  y -= valign == PLOT_MIDDLE ? h / 2 : valign == PLOT_BOTTOM ? h - 1 : 0;
  plot_text(c, x, y, s, col, scale);
}

void plot_text_up(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale) {
  if (scale < 1) scale = 1;
  int len = plot_text_width(s, scale), h = PLOT_GLYPH_H * scale;
  int x0 = x - h / 2, ybot = y + len / 2;
  for (const char *p = s; *p; p++)
    draw_glyph(c, x0, ybot - (int)(p - s) * PLOT_ADVANCE * scale, (unsigned char)*p, col, scale, 1);
}

/* ---- colour maps ----------------------------------------------------------------------- */

typedef struct { uint8_t r, g, b; } rgb8;
/* Crameri's "roma" (Scientific Colour Maps v7) sampled at t = k/16, 8-bit; VEL = reversed. */
static const rgb8 roma17[17] = {
    {126, 23, 0}, {143, 60, 12}, {157, 88, 24}, {169, 114, 35}, {182, 140, 50}, {196, 170, 74},
    {208, 202, 114}, {209, 226, 161}, {192, 234, 195}, {162, 229, 212}, {121, 210, 215},
    {83, 184, 209}, {57, 157, 199}, {43, 132, 188}, {34, 106, 177}, {25, 79, 165}, {3, 49, 152}};
/* matplotlib's "viridis" sampled at t = k/16, 8-bit. */
static const rgb8 viridis17[17] = {
    {68, 1, 84}, {72, 24, 106}, {71, 45, 123}, {66, 64, 134}, {59, 82, 139}, {51, 99, 141},
    {44, 114, 142}, {38, 130, 142}, {33, 145, 140}, {31, 158, 137}, {38, 173, 129},
    {60, 187, 117}, {91, 200, 100}, {127, 211, 78}, {168, 219, 52}, {210, 226, 27}, {251, 231, 35}};

/* matplotlib's "terrain" (_terrain_data): stops at t with RGB in 0..1. */
static const double terrain6[6][4] = {{0.00, 0.2, 0.2, 0.6}, {0.15, 0.0, 0.6, 1.0}, {0.25, 0.0, 0.8, 0.4},
                                      {0.50, 1.0, 1.0, 0.6}, {0.75, 0.5, 0.36, 0.33}, {1.00, 1.0, 1.0, 1.0}};

static plot_rgba interp_terrain(double t) {
  int k = 0;
  while (k < 4 && t > terrain6[k + 1][0]) k++;
  double f = (t - terrain6[k][0]) / (terrain6[k + 1][0] - terrain6[k][0]);
  plot_rgba o;
  o.r = (uint8_t)lround(255.0 * (terrain6[k][1] + (terrain6[k + 1][1] - terrain6[k][1]) * f));
  o.g = (uint8_t)lround(255.0 * (terrain6[k][2] + (terrain6[k + 1][2] - terrain6[k][2]) * f));
  o.b = (uint8_t)lround(255.0 * (terrain6[k][3] + (terrain6[k + 1][3] - terrain6[k][3]) * f));
  o.a = 255;
  return o;
}

int plot_cmap_parse(const char *name, plot_cmap *out) {
  static const char *names[PLOT_CMAP_N] = {"vel", "seq", "seq_r", "gray", "terrain"};
  for (int i = 0; i < PLOT_CMAP_N; i++)
    if (!strcmp(name, names[i])) { *out = (plot_cmap)i; return 0; }
  return -1;
}
const char *plot_cmap_name(plot_cmap m) {
  switch (m) {
  case PLOT_CMAP_VEL: return "vel";
  case PLOT_CMAP_SEQ: return "seq";
  case PLOT_CMAP_SEQ_R: return "seq_r";
  case PLOT_CMAP_TERRAIN: return "terrain";
  default: return "gray";
  }
}

static plot_rgba interp17(const rgb8 *t, double u) {
  double p = u * 16;
  int k = (int)floor(p);
  if (k >= 16) k = 15;
  double f = p - k;
  plot_rgba o;
  o.r = (uint8_t)lround(t[k].r + (t[k + 1].r - t[k].r) * f);
  o.g = (uint8_t)lround(t[k].g + (t[k + 1].g - t[k].g) * f);
  o.b = (uint8_t)lround(t[k].b + (t[k + 1].b - t[k].b) * f);
  o.a = 255;
  return o;
}

plot_rgba plot_cmap_at(plot_cmap m, double t) {
  if (!(t >= 0)) t = 0; /* also NaN */
  if (t > 1) t = 1;
  switch (m) {
  case PLOT_CMAP_VEL: return interp17(roma17, 1 - t);
  case PLOT_CMAP_SEQ: return interp17(viridis17, t);
  case PLOT_CMAP_SEQ_R: return interp17(viridis17, 1 - t);
  case PLOT_CMAP_TERRAIN: return interp_terrain(t);
  default: {
    uint8_t v = (uint8_t)lround(t * 255);
    plot_rgba o = {v, v, v, 255};
    return o;
  }
  }
}

plot_rgba plot_cmap_nan(plot_cmap m) {
  plot_rgba grey = {160, 160, 160, 255}, pink = {255, 170, 170, 255};
  return m == PLOT_CMAP_GRAY || m == PLOT_CMAP_TERRAIN ? pink : grey;
}

void plot_lut_init(plot_lut *l, plot_cmap m, double vmin, double vmax) {
  for (int k = 0; k < 256; k++) l->level[k] = plot_cmap_at(m, k / 255.0);
  l->nan = plot_cmap_nan(m);
  l->vmin = vmin;
  l->vmax = vmax;
}

plot_rgba plot_lut_color(const plot_lut *l, double v) {
  if (!isfinite(v)) return l->nan;
  double span = l->vmax - l->vmin;
  double k = span > 0 ? floor((v - l->vmin) / span * 256) : (v < l->vmin ? 0 : 255);
  if (k < 0) k = 0;
  if (k > 255) k = 255;
  return l->level[(int)k];
}

/* ---- sources and block reading ---------------------------------------------------------- */

static int mem_read(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride) {
  const plot_mem_raster *m = ud;
  for (uint32_t r = 0; r < ny; r++)
    memcpy(dst + r * stride, m->data + (size_t)(y0 + r) * m->stride, m->width * sizeof(float));
  return 0;
}

void plot_source_mem(plot_source *src, plot_mem_raster *m, const float *data, uint32_t width,
                     uint32_t length, size_t stride) {
  m->data = data;
  m->stride = stride;
  m->width = width;
  src->width = width;
  src->length = length;
  src->read = mem_read;
  src->ud = m;
}

#define BLOCK_BYTES (1u << 20) /* target size of one block of source rows */

/* Rows per block: about BLOCK_BYTES of floats, a multiple of align (>= align). */
static uint32_t block_rows(uint32_t width, uint32_t length, uint32_t align) {
  uint32_t rows = (uint32_t)(BLOCK_BYTES / ((size_t)width * sizeof(float)));
  rows = rows / align * align;
  if (rows < align) rows = align;
  if (rows > length) rows = length;
  return rows ? rows : 1;
}

typedef void (*scan_fn)(void *ud, const float *v, size_t n);
/* Reads src block by block into buf (rows x width floats) and hands each block to fn. */
static int scan(cbas_ctx *ctx, const plot_source *src, float *buf, uint32_t rows, scan_fn fn, void *ud) {
  for (uint32_t y = 0; y < src->length; y += rows) {
    uint32_t ny = src->length - y < rows ? src->length - y : rows;
    int st = src->read(src->ud, y, ny, buf, src->width);
    if (st) {
      if (!ctx->status) ctx_fail(ctx, (cbas_status)st, "plot: reading rows %u..%u failed", y, y + ny);
      return ctx->status;
    }
    fn(ud, buf, (size_t)ny * src->width);
  }
  return 0;
}

/* ---- percentiles ----------------------------------------------------------------------- */

/* Exact order statistics of float32 values in two passes. A float maps to an unsigned key
 * whose integer order is the numeric order (sign bit set: all bits flipped; else the sign bit
 * set); pass 1 counts the upper 16 bits of the keys, pass 2 counts the lower 16 bits of the
 * keys that fall in the upper bins holding the wanted ranks. */
#define NBIN 65536
#define MAX_RANK 8

static uint32_t f32_key(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
static float key_f32(uint32_t k) {
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

typedef struct pct_scan {
  uint64_t n;
  uint64_t *hi;                 /* [NBIN] counts of the upper 16 key bits */
  int n_sub;
  uint32_t sub_hi[MAX_RANK];    /* upper bits refined by sub histogram j */
  uint64_t *sub;                /* [n_sub][NBIN] counts of the lower 16 key bits */
} pct_scan;

static void scan_hi(void *ud, const float *v, size_t n) {
  pct_scan *s = ud;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) { s->hi[f32_key(v[i]) >> 16]++; s->n++; }
}
static void scan_lo(void *ud, const float *v, size_t n) {
  pct_scan *s = ud;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) continue;
    uint32_t k = f32_key(v[i]);
    for (int j = 0; j < s->n_sub; j++)
      if (s->sub_hi[j] == k >> 16) { s->sub[(size_t)j * NBIN + (k & 0xffffu)]++; break; }
  }
}
/* Bin holding the element of 0-based rank r; *before = elements in lower bins. */
static uint32_t bin_of_rank(const uint64_t *h, uint64_t r, uint64_t *before) {
  uint64_t cum = 0;
  for (uint32_t b = 0; b < NBIN; b++) {
    if (cum + h[b] > r) { *before = cum; return b; }
    cum += h[b];
  }
  *before = cum;
  return NBIN - 1;
}

int plot_percentiles(cbas_ctx *ctx, const plot_source *src, double scale, int n_pct,
                     const double *pct, double *out, uint64_t *n_valid) {
  if (n_pct < 1 || n_pct > MAX_RANK / 2)
    return ctx_fail(ctx, CBAS_EINTERNAL, "plot_percentiles: %d percentiles (1..4)", n_pct);
  for (int i = 0; i < n_pct; i++) {
    out[i] = NAN;
    if (!(pct[i] >= 0 && pct[i] <= 100)) return ctx_fail(ctx, CBAS_EUSAGE, "percentile %g not in 0..100", pct[i]);
  }
  if (scale == 0) scale = 1;
  *n_valid = 0;
  uint32_t rows = block_rows(src->width, src->length, 1);
  float *buf = budget_alloc(ctx, (size_t)rows * src->width * sizeof(float), "percentile row block");
  uint64_t *hi = buf ? budget_calloc(ctx, NBIN, sizeof(uint64_t), "percentile histogram") : NULL;
  if (!hi) { if (buf) budget_free(ctx, buf); return ctx->status; }
  pct_scan s = {0, hi, 0, {0}, NULL};
  if (scan(ctx, src, buf, rows, scan_hi, &s)) goto out;
  *n_valid = s.n;
  if (!s.n) goto out;
  /* ranks k and k+1 of each percentile in ascending raw order (numpy 'linear': position
   * p/100·(n−1)); a negative scale reverses the order, so percentile p of the scaled values
   * is scale × percentile 100−p of the raw ones */
  uint64_t rank[MAX_RANK], before[MAX_RANK];
  double frac[MAX_RANK / 2];
  int which[MAX_RANK];
  for (int i = 0; i < n_pct; i++) {
    double p = scale > 0 ? pct[i] : 100 - pct[i], pos = p / 100.0 * (double)(s.n - 1);
    uint64_t k = (uint64_t)floor(pos);
    if (k > s.n - 1) k = s.n - 1;
    frac[i] = pos - (double)k;
    rank[2 * i] = k;
    rank[2 * i + 1] = k + 1 < s.n ? k + 1 : k;
  }
  for (int r = 0; r < 2 * n_pct; r++) {
    uint32_t b = bin_of_rank(hi, rank[r], &before[r]);
    int j = 0;
    while (j < s.n_sub && s.sub_hi[j] != b) j++;
    if (j == s.n_sub) s.sub_hi[s.n_sub++] = b;
    which[r] = j;
  }
  s.sub = budget_calloc(ctx, (size_t)s.n_sub * NBIN, sizeof(uint64_t), "percentile refinement histograms");
  if (!s.sub || scan(ctx, src, buf, rows, scan_lo, &s)) goto out;
  double val[MAX_RANK];
  for (int r = 0; r < 2 * n_pct; r++) {
    uint64_t rb;
    uint32_t lo = bin_of_rank(s.sub + (size_t)which[r] * NBIN, rank[r] - before[r], &rb);
    val[r] = (double)key_f32(s.sub_hi[which[r]] << 16 | lo);
  }
  for (int i = 0; i < n_pct; i++)
    out[i] = (val[2 * i] + (val[2 * i + 1] - val[2 * i]) * frac[i]) * scale;
out:
  if (s.sub) budget_free(ctx, s.sub);
  budget_free(ctx, hi);
  budget_free(ctx, buf);
  return ctx->status;
}

int plot_auto_range(cbas_ctx *ctx, const plot_source *src, double scale, plot_cmap m,
                    double *vmin, double *vmax) {
  double pct[2] = {1, 99}, p[2];
  uint64_t n;
  if (plot_percentiles(ctx, src, scale, 2, pct, p, &n)) return ctx->status;
  if (!n) { *vmin = m == PLOT_CMAP_VEL ? -1 : 0; *vmax = 1; return 0; }
  if (m == PLOT_CMAP_VEL) {
    double a = fmax(fabs(p[0]), fabs(p[1]));
    if (!(a > 0)) a = 1;
    *vmin = -a;
    *vmax = a;
  } else if (m == PLOT_CMAP_TERRAIN && p[1] > 0) {
    *vmin = -p[1] / 3;
    *vmax = p[1];
  } else {
    *vmin = p[0];
    *vmax = p[1];
    if (*vmin == *vmax) *vmin = *vmax - 1;
  }
  return 0;
}

/* ---- axes helpers ---------------------------------------------------------------------- */

static const plot_rgba BLACK = {0, 0, 0, 255}, WHITE = {255, 255, 255, 255},
                       DARK = {70, 70, 70, 255}, GRID = {225, 225, 225, 255};

/* "Nice" tick values (1, 2, 2.5, 5 x 10^k steps) inside [lo, hi], at most max_n of them;
 * returns their count, the step and the decimals needed to print them. */
static int nice_ticks(double lo, double hi, int max_n, double *tick, int *decimals) {
  double span = hi - lo;
  if (!(span > 0) || max_n < 2) { tick[0] = lo; *decimals = 2; return 1; }
  double raw = span / (max_n - 1), mag = pow(10, floor(log10(raw))), step = 10 * mag;
  static const double m[4] = {1, 2, 2.5, 5};
  int dec_extra = 0;
  for (int i = 0; i < 4; i++)
    if (m[i] * mag >= raw * (1 - 1e-9)) { step = m[i] * mag; dec_extra = i == 2; break; }
  int d = (int)-floor(log10(step) + 1e-9) + dec_extra;
  *decimals = d < 0 ? 0 : d > 6 ? 6 : d;
  int n = 0;
  for (double k = ceil(lo / step - 1e-9); n < 16; k++) {
    double v = k * step;
    if (v > hi + step * 1e-9) break;
    tick[n++] = fabs(v) < step * 1e-9 ? 0 : v;
  }
  return n;
}

static void fmt_value(char *buf, size_t cap, double v, int decimals) {
  snprintf(buf, cap, "%.*f", decimals, v);
  if (!strcmp(buf, "-0") || (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))) memmove(buf, buf + 1, strlen(buf));
}

/* ---- quicklook ------------------------------------------------------------------------- */

/* Widens an automatic range to round numbers so that the ends of the colour bar read well:
 * symmetric ranges (and the top of terrain's −p99/3 .. p99, its bottom then −top/3) to the next
 * of 1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8 x 10^k, others outward to multiples of half the
 * tick step. */
static void round_range(plot_cmap m, double *lo, double *hi) {
  int sym = m == PLOT_CMAP_VEL && *lo == -*hi && *hi > 0, dem = m == PLOT_CMAP_TERRAIN && *hi > 0 && *lo == -*hi / 3;
  if (sym || dem) {
    static const double steps[13] = {1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10};
    double mag = pow(10, floor(log10(*hi))), a = 10 * mag;
    for (int i = 0; i < 13; i++)
      if (steps[i] * mag >= *hi * (1 - 1e-12)) { a = steps[i] * mag; break; }
    *lo = sym ? -a : -a / 3;
    *hi = a;
    return;
  }
  double t[16];
  int dec, n = nice_ticks(*lo, *hi, 6, t, &dec);
  if (n < 2) return;
  double half = (t[1] - t[0]) / 2;
  *lo = floor(*lo / half + 1e-9) * half;
  *hi = ceil(*hi / half - 1e-9) * half;
}

#define TS 2          /* text scale of labels */
#define TITLE_S 3     /* text scale of titles */
#define MARGIN 16
#define BAR_W 24

/* ---- map painter ----------------------------------------------------------------------- */

void plot_fit_map(uint32_t width, uint32_t length, uint32_t max_w, uint32_t max_h, plot_fit *fit) {
  if (max_w < 1) max_w = 1;
  if (max_h < 1) max_h = 1;
  if (!width) width = 1;
  if (!length) length = 1;
  uint32_t f = (width + max_w - 1) / max_w, fl = (length + max_h - 1) / max_h, u = 1;
  if (fl > f) f = fl;
  if (f <= 1) {
    f = 1;
    u = max_w / width < max_h / length ? max_w / width : max_h / length;
    u = u < 1 ? 1 : u > 8 ? 8 : u;
  }
  fit->reduce = f;
  fit->enlarge = u;
  fit->map_w = (width + f - 1) / f * u;
  fit->map_h = (length + f - 1) / f * u;
}

size_t plot_painter_bytes(const plot_fit *fit, uint32_t width) {
  size_t cols = (width + fit->reduce - 1) / fit->reduce;
  return cols * (sizeof(double) + 2 * sizeof(uint32_t));
}

void plot_painter_init(plot_painter *p, plot_canvas *c, const plot_lut *lut, const plot_fit *fit,
                       uint32_t width, uint32_t length, int x0, int y0, double scale, void *acc) {
  size_t cols = (width + fit->reduce - 1) / fit->reduce;
  memset(p, 0, sizeof *p);
  p->c = c;
  p->lut = lut;
  p->fit = *fit;
  p->width = width;
  p->length = length;
  p->x0 = x0;
  p->y0 = y0;
  p->scale = scale ? scale : 1;
  p->sum = acc;
  p->n_ok = (uint32_t *)(p->sum + cols);
  p->n_all = p->n_ok + cols;
  memset(acc, 0, plot_painter_bytes(fit, width));
}

/* Paints the map row of the accumulated source rows and clears the accumulators. */
static void painter_flush(plot_painter *p) {
  uint32_t cols = (p->width + p->fit.reduce - 1) / p->fit.reduce, u = p->fit.enlarge;
  for (uint32_t ox = 0; ox < cols; ox++) {
    double val = 2 * p->n_ok[ox] >= p->n_all[ox] && p->n_ok[ox] ? p->sum[ox] / p->n_ok[ox] : NAN;
    if (!isfinite(val)) p->n_nan++;
    plot_rgba col = plot_lut_color(p->lut, val);
    int px = p->x0 + (int)(ox * u), py = p->y0 + (int)(p->oy * u);
    plot_fill_rect(p->c, px, py, px + (int)u - 1, py + (int)u - 1, col);
  }
  memset(p->sum, 0, cols * sizeof *p->sum);
  memset(p->n_ok, 0, cols * sizeof *p->n_ok);
  memset(p->n_all, 0, cols * sizeof *p->n_all);
  p->oy++;
  p->pending = 0;
}

void plot_painter_rows(plot_painter *p, const float *v, uint32_t n, size_t stride) {
  uint32_t f = p->fit.reduce;
  for (uint32_t r = 0; r < n && p->rows_in < p->length; r++) {
    const float *row = v + (size_t)r * stride;
    for (uint32_t x = 0; x < p->width; x++) {
      uint32_t ox = x / f;
      double val = (double)row[x] * p->scale;
      p->n_all[ox]++;
      if (isfinite(val)) { p->sum[ox] += val; p->n_ok[ox]++; }
    }
    p->rows_in++;
    if (++p->pending == f || p->rows_in == p->length) painter_flush(p);
  }
}

static void ql_block(void *ud, const float *v, size_t n) {
  plot_painter *p = ud;
  plot_painter_rows(p, v, (uint32_t)(n / p->width), p->width);
}

/* ---- colour bars ----------------------------------------------------------------------- */

/* The gradient (top row = level 255 = vmax, bottom row = level 0) and its black frame. */
static void draw_bar(plot_canvas *c, int x, int y, int w, int h, const plot_lut *lut) {
  for (int i = 0; i < h; i++) {
    int k = h > 1 ? (int)lround((double)(h - 1 - i) * 255.0 / (h - 1)) : 255;
    plot_fill_rect(c, x, y + i, x + w - 1, y + i, lut->level[k]);
  }
  plot_rect(c, x - 1, y - 1, x + w, y + h, BLACK);
}

/* Row of value v on a bar of height h at y (vmax at the top). */
static int bar_row(const plot_lut *lut, int y, int h, double v) {
  return y + (int)lround((lut->vmax - v) / (lut->vmax - lut->vmin) * (h - 1));
}

int plot_colorbar(plot_canvas *c, int x, int y, int bar_w, int bar_h, const plot_lut *lut, int scale,
                  int max_ticks) {
  if (scale < 1) scale = 1;
  draw_bar(c, x, y, bar_w, bar_h, lut);
  int width = bar_w;
  if (!(lut->vmin < lut->vmax)) return width;
  double tick[16];
  int dec, n = nice_ticks(lut->vmin, lut->vmax, max_ticks < 2 ? 2 : max_ticks > 16 ? 16 : max_ticks, tick, &dec);
  for (int i = 0; i < n; i++) {
    char lab[32];
    int ty = bar_row(lut, y, bar_h, tick[i]);
    fmt_value(lab, sizeof lab, tick[i], dec);
    plot_line(c, x + bar_w, ty, x + bar_w + 4, ty, BLACK);
    int w = plot_text_width(lab, scale);
    plot_text_at(c, x + bar_w + 8, ty, lab, BLACK, scale, PLOT_LEFT, PLOT_MIDDLE);
    if (bar_w + 8 + w > width) width = bar_w + 8 + w;
  }
  return width;
}

int plot_quicklook(cbas_ctx *ctx, const char *path, const plot_ql_opts *o, const plot_source *src,
                   plot_ql_info *info) {
  uint32_t W = src->width, L = src->length;
  if (!W || !L) return ctx_fail(ctx, CBAS_EUSAGE, "%s: empty raster (%ux%u)", path, W, L);
  double scale = o->scale ? o->scale : 1, vmin = o->vmin, vmax = o->vmax;
  if (isnan(vmin) || isnan(vmax)) {
    double a, b;
    if (plot_auto_range(ctx, src, scale, o->cmap, &a, &b)) return ctx->status;
    round_range(o->cmap, &a, &b);
    if (isnan(vmin)) vmin = a;
    if (isnan(vmax)) vmax = b;
  }
  if (!(vmin < vmax) || !isfinite(vmin) || !isfinite(vmax))
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: colour range %g .. %g is empty", path, vmin, vmax);
  uint32_t max_w = o->max_w ? o->max_w : 800, max_h = o->max_h ? o->max_h : 640;
  if (max_w < 16) max_w = 16;
  if (max_h < 16) max_h = 16;
  plot_fit fit;
  plot_fit_map(W, L, max_w, max_h, &fit);
  uint32_t f = fit.reduce, u = fit.enlarge, mw = fit.map_w, mh = fit.map_h;

  /* layout */
  int line = PLOT_GLYPH_H * TS, title_h = o->title && *o->title ? PLOT_GLYPH_H * TITLE_S + 12 : 0;
  int cap_h = line + 12;
  int top = MARGIN + title_h + cap_h, x0 = MARGIN, y0 = top;
  int units_h = line + 18, nod_h = line + 22;
  int bar_h = (int)mh - units_h - nod_h;
  if (bar_h < 200) bar_h = 200;
  int body_h = units_h + bar_h + nod_h > (int)mh ? units_h + bar_h + nod_h : (int)mh;
  double tick[16];
  int dec, n_tick = nice_ticks(vmin, vmax, bar_h / (line + 16) < 8 ? bar_h / (line + 16) : 8, tick, &dec);
  char lab[16][32];
  int lab_w = plot_text_width("no data", TS);
  for (int i = 0; i < n_tick; i++) {
    fmt_value(lab[i], sizeof lab[i], tick[i], dec);
    int w = plot_text_width(lab[i], TS);
    if (w > lab_w) lab_w = w;
  }
  char end_lab[2][32]; /* vmax, vmin with the tick decimals, or up to two more if needed */
  for (int e = 0; e < 2; e++) {
    double v = e ? vmin : vmax;
    for (int d = dec; d <= dec + 2; d++) {
      fmt_value(end_lab[e], sizeof end_lab[e], v, d);
      if (fabs(strtod(end_lab[e], NULL) - v) <= 1e-9 * (fabs(v) + 1)) break;
    }
    int w = plot_text_width(end_lab[e], TS);
    if (w > lab_w) lab_w = w;
  }
  int bar_x = x0 + (int)mw + 24, bar_y = y0 + units_h;
  int cw = bar_x + BAR_W + 8 + lab_w + MARGIN;
  if (o->units && plot_text_width(o->units, TS) + bar_x + MARGIN > cw) cw = plot_text_width(o->units, TS) + bar_x + MARGIN;
  char caption[160];
  if (f > 1) snprintf(caption, sizeof caption, "%u x %u pixels, shown 1:%u (mean of %ux%u)", W, L, f, f, f);
  else if (u > 1) snprintf(caption, sizeof caption, "%u x %u pixels, shown x%u", W, L, u);
  else snprintf(caption, sizeof caption, "%u x %u pixels", W, L);
  int capw = plot_text_width(caption, TS);
  /* the title in large type when it fits above the map and bar, else in label type */
  int title_s = o->title && plot_text_width(o->title, TITLE_S) + 2 * MARGIN > cw ? TS : TITLE_S;
  int tw = o->title ? plot_text_width(o->title, title_s) : 0;
  if (tw + 2 * MARGIN > cw) cw = tw + 2 * MARGIN;
  if (capw + 2 * MARGIN > cw) cw = capw + 2 * MARGIN;
  int ch = top + body_h + MARGIN;

  plot_canvas c;
  plot_lut lut;
  plot_lut_init(&lut, o->cmap, vmin, vmax);
  uint32_t rows = block_rows(W, L, f);
  float *buf = NULL;
  double *acc = NULL;
  if (plot_canvas_new(ctx, &c, (uint32_t)cw, (uint32_t)ch, WHITE)) return ctx->status;
  buf = budget_alloc(ctx, (size_t)rows * W * sizeof(float), "quicklook row block");
  acc = buf ? budget_alloc(ctx, plot_painter_bytes(&fit, W), "quicklook row accumulators") : NULL;
  if (!acc) goto fail;

  if (title_h) plot_text(&c, MARGIN, MARGIN, o->title, BLACK, title_s);
  plot_text(&c, MARGIN, MARGIN + title_h, caption, DARK, TS);
  plot_painter q;
  plot_painter_init(&q, &c, &lut, &fit, W, L, x0, y0, scale, acc);
  if (scan(ctx, src, buf, rows, ql_block, &q)) goto fail;
  plot_rect(&c, x0 - 1, y0 - 1, x0 + (int)mw, y0 + (int)mh, BLACK);

  /* colour bar: top row = level 255 (vmax), bottom row = level 0 (vmin) */
  if (o->units && *o->units) plot_text(&c, bar_x, y0, o->units, BLACK, TS);
  draw_bar(&c, bar_x, bar_y, BAR_W, bar_h, &lut);
  for (int i = 0; i < n_tick; i++) {
    int ty = bar_row(&lut, bar_y, bar_h, tick[i]);
    plot_line(&c, bar_x + BAR_W, ty, bar_x + BAR_W + 4, ty, BLACK);
    plot_text_at(&c, bar_x + BAR_W + 8, ty, lab[i], BLACK, TS, PLOT_LEFT, PLOT_MIDDLE);
  }
  /* the ends of the scale, labelled when clear of the tick labels */
  for (int e = 0; e < 2; e++) {
    int ty = e ? bar_y + bar_h - 1 : bar_y, clear = 1;
    for (int i = 0; i < n_tick; i++)
      if (abs(bar_row(&lut, bar_y, bar_h, tick[i]) - ty) < line + 8) clear = 0;
    if (!clear) continue;
    plot_line(&c, bar_x + BAR_W, ty, bar_x + BAR_W + 4, ty, BLACK);
    plot_text_at(&c, bar_x + BAR_W + 8, ty, end_lab[e], DARK, TS, PLOT_LEFT, PLOT_MIDDLE);
  }
  int ny = bar_y + bar_h + 18;
  plot_fill_rect(&c, bar_x, ny, bar_x + BAR_W - 1, ny + line - 1, lut.nan);
  plot_rect(&c, bar_x - 1, ny - 1, bar_x + BAR_W, ny + line, BLACK);
  plot_text(&c, bar_x + BAR_W + 8, ny, "no data", BLACK, TS);

  if (info) {
    plot_ql_info r = {vmin, vmax, f, u, x0, y0, (int)mw, (int)mh, bar_x, bar_y, BAR_W, bar_h,
                      bar_x + BAR_W / 2, ny + line / 2, q.n_nan};
    *info = r;
  }
  budget_free(ctx, acc);
  budget_free(ctx, buf);
  acc = NULL; buf = NULL;
  if (plot_canvas_write_png(ctx, &c, path, o->title)) goto fail;
  plot_canvas_free(ctx, &c);
  return 0;
fail:
  if (acc) budget_free(ctx, acc);
  if (buf) budget_free(ctx, buf);
  plot_canvas_free(ctx, &c);
  return ctx->status;
}

/* ---- network plot ---------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long civil_days(int y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}
static long ymd_days(int32_t ymd) { return civil_days(ymd / 10000, ymd / 100 % 100, ymd % 100); }

typedef struct net_axes {
  int px0, px1, py0, py1;   /* plot area (inclusive) */
  double d0, d1, b0, b1;    /* day and bperp ranges */
} net_axes;
static int net_x(const net_axes *a, double day) { return a->px0 + (int)lround((day - a->d0) / (a->d1 - a->d0) * (a->px1 - a->px0)); }
static int net_y(const net_axes *a, double b) { return a->py1 - (int)lround((b - a->b0) / (a->b1 - a->b0) * (a->py1 - a->py0)); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int plot_network(cbas_ctx *ctx, const char *path, const plot_net *n, int *n_gap_out) {
  static const char *mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const plot_rgba BLUE = {0, 0, 255, 153}, RED = {255, 0, 0, 153}, DOT = {31, 119, 180, 153},
                  GAP = {0, 0, 0, 153}, YEAR = {150, 150, 150, 255};
  if (n->n_epoch < 1) return ctx_fail(ctx, CBAS_EDATA, "%s: network plot without epochs", path);
  for (int i = 0; i < n->n_ifg; i++)
    if (n->prim[i] < 0 || n->sec[i] < 0 || n->prim[i] >= n->n_epoch || n->sec[i] >= n->n_epoch)
      return ctx_fail(ctx, CBAS_EINTERNAL, "%s: interferogram %d refers to epoch %d/%d of %d", path, i,
                      n->prim[i], n->sec[i], n->n_epoch);
  for (int i = 0; i < n->n_epoch; i++)
    if (ymd_days(n->ymd[i]) < -100000 || (i && n->ymd[i] <= n->ymd[i - 1]))
      return ctx_fail(ctx, CBAS_EINTERNAL, "%s: epoch dates not increasing at %d", path, (int)n->ymd[i]);

  /* per-epoch scratch: [0, n) bperp for the median, [n, 2n) good-span counts */
  double *tmp = budget_alloc(ctx, sizeof(double) * 2 * (size_t)n->n_epoch, "network plot epochs");
  if (!tmp) return ctx->status;
  double *span = tmp + n->n_epoch;
  int n_known = 0;
  for (int i = 0; i < n->n_epoch; i++) {
    span[i] = 0;
    if (isfinite(n->bperp_m[i])) tmp[n_known++] = n->bperp_m[i];
  }
  double bmin = 0, bmax = 0, median = 0;
  if (n_known) {
    qsort(tmp, (size_t)n_known, sizeof *tmp, cmp_double);
    bmin = tmp[0]; bmax = tmp[n_known - 1];
    median = n_known % 2 ? tmp[n_known / 2] : 0.5 * (tmp[n_known / 2 - 1] + tmp[n_known / 2]);
  }
  if (bmin > 0) bmin = 0;
  if (bmax < 0) bmax = 0;
  /* gaps of the good network: span[i] = good ifgs with prim <= i < sec */
  int n_good = 0, n_bad = 0;
  for (int i = 0; i < n->n_ifg; i++) {
    int bad = n->bad && n->bad[i];
    n_bad += bad; n_good += !bad;
    if (bad) continue;
    int a = n->prim[i] < n->sec[i] ? n->prim[i] : n->sec[i], b = n->prim[i] ^ n->sec[i] ^ a;
    span[a] += 1;
    span[b] -= 1;
  }
  /* used epochs are those with a good ifg; tmp[] is reused as a used flag */
  for (int i = 0; i < n->n_epoch; i++) tmp[i] = 0;
  for (int i = 0; i < n->n_ifg; i++)
    if (!(n->bad && n->bad[i])) tmp[n->prim[i]] = tmp[n->sec[i]] = 1;
  double cover = 0;
  for (int i = 0; i < n->n_epoch; i++) { cover += span[i]; span[i] = cover; }

  long day0 = ymd_days(n->ymd[0]), day1 = ymd_days(n->ymd[n->n_epoch - 1]);
  int W = (int)lround((double)(day1 - day0) / 80.0 * 100.0) + 200;
  W = W < 700 ? 700 : W > 2400 ? 2400 : W;
  const int H = 600, line = PLOT_GLYPH_H * TS;
  net_axes ax;
  ax.px0 = 100; ax.px1 = W - 24;
  ax.py0 = 20 + (n->title && *n->title ? PLOT_GLYPH_H * TITLE_S + 16 : 0); ax.py1 = H - 76;
  ax.d0 = (double)day0 - 10; ax.d1 = (double)day1 + 10;
  double pad = (bmax - bmin) * 0.12;
  if (!(pad > 0)) pad = 1;
  ax.b0 = bmin - pad; ax.b1 = bmax + pad;

  plot_canvas c;
  if (plot_canvas_new(ctx, &c, (uint32_t)W, (uint32_t)H, WHITE)) { budget_free(ctx, tmp); return ctx->status; }
  if (n->title && *n->title)
    plot_text_at(&c, W / 2, 14, n->title, BLACK, plot_text_width(n->title, TITLE_S) > W - 40 ? TS : TITLE_S,
                 PLOT_CENTER, PLOT_TOP);

  /* y grid, ticks and labels */
  double tick[16];
  int dec, nt = nice_ticks(ax.b0, ax.b1, 7, tick, &dec);
  for (int i = 0; i < nt; i++) {
    int y = net_y(&ax, tick[i]);
    char lab[32];
    plot_line(&c, ax.px0, y, ax.px1, y, GRID);
    plot_line(&c, ax.px0 - 5, y, ax.px0, y, BLACK);
    fmt_value(lab, sizeof lab, tick[i], dec);
    plot_text_at(&c, ax.px0 - 9, y, lab, BLACK, TS, PLOT_RIGHT, PLOT_MIDDLE);
  }
  plot_text_up(&c, 18, (ax.py0 + ax.py1) / 2, n_known ? "Bperp [m]" : "Bperp unknown", BLACK, TS);

  /* x axis: month ticks (every 1, 2, 3, 4, 6 or 12 months so that labels do not collide),
   * year boundaries as bold lines labelled with the year, like ConciseDateFormatter */
  double px_per_month = (ax.px1 - ax.px0) / (ax.d1 - ax.d0) * 30.44;
  static const int steps[6] = {1, 2, 3, 4, 6, 12};
  int mstep = 12;
  for (int i = 0; i < 6; i++)
    if (steps[i] * px_per_month >= plot_text_width("Mmm", TS) + 14) { mstep = steps[i]; break; }
  int y0 = n->ymd[0] / 10000, m0 = n->ymd[0] / 100 % 100;
  if (m0 == 1) { y0--; m0 = 12; } else m0--;
  int first_label = 1;
  for (int y = y0, m = m0;; ) {
    double d = (double)civil_days(y, m, 1);
    if (d > ax.d1) break;
    if (d >= ax.d0 && ((m - 1) % mstep == 0)) {
      int x = net_x(&ax, d);
      plot_pen pen = {m == 1 ? YEAR : GRID, m == 1 ? 2 : 1, 0, 0};
      plot_line_pen(&c, x, ax.py0, x, ax.py1, &pen);
      plot_line(&c, x, ax.py1, x, ax.py1 + 5, BLACK);
      char lab[16];
      if (m == 1 || first_label) snprintf(lab, sizeof lab, "%s%d", m == 1 ? "" : "", y);
      if (m == 1) plot_text_at(&c, x, ax.py1 + 9, lab, BLACK, TS, PLOT_CENTER, PLOT_TOP);
      else {
        plot_text_at(&c, x, ax.py1 + 9, mon[m - 1], BLACK, TS, PLOT_CENTER, PLOT_TOP);
        if (first_label) plot_text_at(&c, x, ax.py1 + 13 + line, lab, DARK, TS, PLOT_CENTER, PLOT_TOP);
      }
      first_label = 0;
    }
    if (++m > 12) { m = 1; y++; }
  }
  plot_text_at(&c, (ax.px0 + ax.px1) / 2, H - 8, "Time", BLACK, TS, PLOT_CENTER, PLOT_BOTTOM);

  /* gaps: between consecutive used epochs that no good ifg spans */
  int n_gap = 0, prev = -1;
  for (int i = 0; i < n->n_epoch; i++) {
    if (!tmp[i]) continue;
    if (prev >= 0 && span[prev] <= 0) {
      double d = 0.5 * (double)(ymd_days(n->ymd[prev]) + ymd_days(n->ymd[i]));
      plot_pen pen = {GAP, 3, 0, 0};
      int x = net_x(&ax, d);
      plot_line_pen(&c, x, ax.py0, x, ax.py1, &pen);
      n_gap++;
    }
    prev = i;
  }

  /* interferograms: good first (blue), then bad (red, dashed) on top */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !n->plot_bad) break;
    plot_pen pen = {pass ? RED : BLUE, 1, pass ? 6 : 0, pass ? 4 : 0};
    for (int i = 0; i < n->n_ifg; i++) {
      if ((n->bad && n->bad[i]) != pass) continue;
      int a = n->prim[i], b = n->sec[i];
      double ba = isfinite(n->bperp_m[a]) ? n->bperp_m[a] : 0, bb = isfinite(n->bperp_m[b]) ? n->bperp_m[b] : 0;
      plot_line_pen(&c, net_x(&ax, (double)ymd_days(n->ymd[a])), net_y(&ax, ba),
                    net_x(&ax, (double)ymd_days(n->ymd[b])), net_y(&ax, bb), &pen);
    }
  }
  /* epochs with MM/DD labels, above the dot when above the median baseline, else below */
  for (int i = 0; i < n->n_epoch; i++) {
    double b = isfinite(n->bperp_m[i]) ? n->bperp_m[i] : 0;
    int x = net_x(&ax, (double)ymd_days(n->ymd[i])), y = net_y(&ax, b);
    plot_disc(&c, x, y, 3, DOT);
    char lab[8];
    snprintf(lab, sizeof lab, "%02d/%02d", (int)(n->ymd[i] / 100 % 100), (int)(n->ymd[i] % 100));
    int len = plot_text_width(lab, 1);
    plot_text_up(&c, x, b > median ? y - 6 - len / 2 : y + 6 + len / 2, lab, DARK, 1);
  }
  plot_rect(&c, ax.px0, ax.py0, ax.px1, ax.py1, BLACK);

  /* legend, top right */
  char l1[48], l2[48], l3[48];
  snprintf(l1, sizeof l1, "IFG (%d)", n_good);
  snprintf(l2, sizeof l2, "Removed IFG (%d)", n_bad);
  snprintf(l3, sizeof l3, "Gap (%d)", n_gap);
  const char *labs[3] = {l1, l2, l3};
  int show[3] = {1, n->plot_bad && n_bad > 0, n_gap > 0}, lw = 0, nl = 0;
  for (int i = 0; i < 3; i++)
    if (show[i]) { nl++; if (plot_text_width(labs[i], TS) > lw) lw = plot_text_width(labs[i], TS); }
  int bw = 48 + lw + 12, bh = nl * (line + 8) + 10, bx = ax.px1 - 8 - bw, by = ax.py0 + 8, row = 0;
  plot_fill_rect(&c, bx, by, bx + bw, by + bh, (plot_rgba){255, 255, 255, 220});
  plot_rect(&c, bx, by, bx + bw, by + bh, (plot_rgba){180, 180, 180, 255});
  for (int i = 0; i < 3; i++) {
    if (!show[i]) continue;
    int yy = by + 6 + row * (line + 8) + line / 2;
    plot_pen pen = {i == 0 ? BLUE : i == 1 ? RED : GAP, i == 2 ? 3 : 2, i == 1 ? 6 : 0, i == 1 ? 4 : 0};
    plot_line_pen(&c, bx + 8, yy, bx + 40, yy, &pen);
    plot_text_at(&c, bx + 48, yy, labs[i], BLACK, TS, PLOT_LEFT, PLOT_MIDDLE);
    row++;
  }
  budget_free(ctx, tmp);
  if (n_gap_out) *n_gap_out = n_gap;
  int st = plot_canvas_write_png(ctx, &c, path, n->title);
  plot_canvas_free(ctx, &c);
  return st;
}
