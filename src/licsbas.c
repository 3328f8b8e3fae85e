/* licsbas.c — LiCSBAS's small conventions reproduced exactly (see include/cbas/licsbas.h). */
#include "cbas/licsbas.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- dates */

static int digits(const char *s, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}
static int num(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}
static int month_days(int y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d[m - 1] + (m == 2 && leap);
}
int lb_valid_date(const char *s) {
  if (!digits(s, 8)) return 0;
  int y = num(s, 4), m = num(s + 4, 2), d = num(s + 6, 2);
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}
long lb_day_number(const char *s) {
  /* days from civil (proleptic Gregorian), H. Hinnant's algorithm */
  long y = num(s, 4), m = num(s + 4, 2), d = num(s + 6, 2);
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
const char *lb_ifg_name_problem(const char *name) {
  if (strlen(name) != 17 || name[0] != '2' || name[8] != '_' || name[9] != '2')
    return "not a YYYYMMDD_YYYYMMDD interferogram folder name";
  if (!digits(name, 8) || !digits(name + 9, 8)) return "non-digit characters in the dates";
  if (!lb_valid_date(name) || !lb_valid_date(name + 9)) return "not a calendar date";
  if (memcmp(name, name + 9, 8) >= 0) return "primary date not before secondary date";
  return NULL;
}

/* ---------------------------------------------------------------- ranges */

/* Unsigned decimal integer at *p; advances *p. */
static int take_uint(const char **p, uint32_t *v) {
  const char *s = *p;
  uint64_t x = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') {
    x = x * 10 + (uint64_t)(*s++ - '0');
    if (x > 0xffffffffu) return -1;
  }
  *v = (uint32_t)x;
  *p = s;
  return 0;
}

int lb_read_range(const char *s, uint32_t width, uint32_t length, lb_range *out, char *why,
                  size_t cap) {
  uint32_t x1, x2, y1, y2;
  const char *p = s;
  if (take_uint(&p, &x1) || *p++ != ':' || take_uint(&p, &x2) || *p++ != '/' ||
      take_uint(&p, &y1) || *p++ != ':' || take_uint(&p, &y2) || *p) {
    snprintf(why, cap, "'%s' is not of the form X1:X2/Y1:Y2", s);
    return -1;
  }
  if (x2 == 0) x2 = width;
  if (y2 == 0) y2 = length;
  if (x1 > width - 1 || x2 > width || y1 > length - 1 || y2 > length || width == 0 || length == 0) {
    snprintf(why, cap, "'%s' exceeds the %ux%u grid", s, width, length);
    return -1;
  }
  if (x1 >= x2 || y1 >= y2) {
    snprintf(why, cap, "'%s' is empty (X2/Y2 must be larger than X1/Y1)", s);
    return -1;
  }
  *out = (lb_range){x1, x2, y1, y2};
  return 0;
}

/* One number of the form [+-]?\d+(\.\d+)? (the regex read_range_geo accepts). */
static int take_geo_number(const char **p, double *v) {
  const char *s = *p, *b = s;
  if (*s == '+' || *s == '-') s++;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') s++;
  if (*s == '.') {
    s++;
    if (*s < '0' || *s > '9') return -1;
    while (*s >= '0' && *s <= '9') s++;
  }
  char tmp[64];
  if ((size_t)(s - b) >= sizeof tmp) return -1;
  memcpy(tmp, b, (size_t)(s - b));
  tmp[s - b] = 0;
  *v = strtod(tmp, NULL);
  *p = s;
  return 0;
}

/* int(np.round(v)) with round-half-even, clamped to a range that cannot overflow. */
static int64_t round_even(double v) {
  if (v > 4e9) return INT64_C(4000000000);
  if (v < -4e9) return -INT64_C(4000000000);
  return (int64_t)nearbyint(v);
}

int lb_read_range_geo(const char *s, uint32_t width, uint32_t length, double lat1,
                      double post_lat, double lon1, double post_lon, lb_range *out, char *why,
                      size_t cap) {
  double lon_w, lon_e, lat_s, lat_n;
  const char *p = s;
  if (take_geo_number(&p, &lon_w) || *p++ != '/' || take_geo_number(&p, &lon_e) || *p++ != '/' ||
      take_geo_number(&p, &lat_s) || *p++ != '/' || take_geo_number(&p, &lat_n) || *p) {
    snprintf(why, cap, "'%s' is not of the form LONW/LONE/LATS/LATN (decimal degrees)", s);
    return -1;
  }
  double lat2 = lat1 + post_lat * (double)(length - 1);
  double lon2 = lon1 + post_lon * (double)(width - 1);
  /* 64-bit on every target: on 32-bit ARM a long cannot hold the clamp value. */
  int64_t x1 = lon_w > lon1 ? round_even((lon_w - lon1) / post_lon) : 0;
  int64_t x2 = lon_e < lon2 ? round_even((lon_e - lon1) / post_lon) + 1 : (int64_t)width;
  int64_t y1 = lat_n < lat1 ? round_even((lat_n - lat1) / post_lat) : 0;
  int64_t y2 = lat_s > lat2 ? round_even((lat_s - lat1) / post_lat) + 1 : (int64_t)length;
  if (x1 > (int64_t)width - 1 || y1 > (int64_t)length - 1 || x2 <= x1 || y2 <= y1) {
    snprintf(why, cap,
             "'%s' gives no pixel of the grid (lon %.7f..%.7f, lat %.7f..%.7f at pixel centres)",
             s, lon1, lon2, lat2, lat1);
    return -1;
  }
  *out = (lb_range){(uint32_t)x1, (uint32_t)x2, (uint32_t)y1, (uint32_t)y2};
  return 0;
}

/* ---------------------------------------------------------------- multilook */

static float nan0(float v) { return v != v ? 0.0f : v; }

/* NumPy's pairwise_sum for float32 (numpy/core/src/umath/loops_utils.h.src), NaN read as 0. */
float lb_np_sum_f32(const float *a, size_t n, size_t stride) {
  if (n < 8) {
    float res = 0.0f;
    for (size_t i = 0; i < n; i++) res += nan0(a[i * stride]);
    return res;
  }
  if (n <= 128) {
    float r[8];
    size_t i;
    for (int j = 0; j < 8; j++) r[j] = nan0(a[(size_t)j * stride]);
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; j++) r[j] += nan0(a[(i + (size_t)j) * stride]);
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += nan0(a[i * stride]);
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return lb_np_sum_f32(a, n2, stride) + lb_np_sum_f32(a + n2 * stride, n - n2, stride);
}

void lb_multilook_row(const float *src, size_t src_stride, uint32_t n_out, int n, int flat, float *dst) {
  size_t nn = (size_t)n;
  float block[64];
  for (uint32_t j = 0; j < n_out; j++) {
    const float *b = src + (size_t)j * nn;
    /* NumPy reduces axes (1, 3) of the (L/n, n, W/n, n) view in memory order: each block row
     * is summed pairwise, then added to the running total (which starts at 0). With W/n = 1
     * the two axes coalesce into one contiguous run of n*n values. */
    float sum = 0.0f;
    size_t valid = 0;
    for (size_t r = 0; r < nn; r++) {
      const float *row = b + r * src_stride;
      if (!flat) sum += lb_np_sum_f32(row, nn, 1);
      for (size_t c = 0; c < nn; c++) valid += row[c] == row[c];
    }
    if (flat) {
      /* (a frame one multilooked pixel wide: only the block copy differs) */
      float *blk = nn * nn <= 64 ? block : malloc(nn * nn * sizeof *blk);
      if (!blk) { dst[j] = NAN; continue; }
      for (size_t r = 0; r < nn; r++) memcpy(blk + r * nn, b + r * src_stride, nn * sizeof *blk);
      sum = lb_np_sum_f32(blk, nn * nn, 1);
      if (blk != block) free(blk);
    }
    /* nanmean divides the float32 total by an integer count: done in double, stored as float */
    if (2 * valid < nn * nn) dst[j] = NAN;
    else dst[j] = (float)((double)sum / (double)valid);
  }
}

/* ---------------------------------------------------------------- coherence */

uint8_t lb_cc_byte(float v) {
  if (v != v) return 0;
  if (!(v > -2147483648.0f && v < 2147483648.0f)) return 0; /* cvttss2si "integer indefinite" */
  return (uint8_t)(uint32_t)(int32_t)v;
}
void lb_coh_accumulate(const uint8_t *cc, uint32_t n, float *sum, int16_t *count) {
  for (uint32_t i = 0; i < n; i++) {
    float c = (float)cc[i] / 255.0f;
    sum[i] += c;
    count[i] = (int16_t)(count[i] + (c != 0.0f));
  }
}
void lb_coh_finish(const float *sum, const int16_t *count, uint32_t n, float *coh_avg) {
  const int16_t wrapped_99999 = (int16_t)(99999 - 65536 * 2); /* -31073: NumPy 1.x int16 wrap */
  for (uint32_t i = 0; i < n; i++) {
    int16_t d = count[i] == 0 ? wrapped_99999 : count[i];
    coh_avg[i] = sum[i] / (float)d;
  }
}
int lb_coh_masked(float coh_avg, double thre) { return coh_avg <= (float)thre; }

/* ---------------------------------------------------------------- baselines */

typedef struct { char date[9]; double bp; } bp_entry;

/* Whitespace tokens of one line (at most max); returns the count. */
static int split_tokens(char *line, char **tok, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    if (!*p) break;
    if (n < max) tok[n] = p;
    n++;
    while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
    if (*p) *p++ = 0;
  }
  return n;
}

int lb_read_bperp(const char *path, const char (*dates)[9], uint32_t n, double *bperp, char *why,
                  size_t cap) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) { snprintf(why, cap, "%s", plat_strerror(e)); return -1; }
  uint64_t sz = 0;
  plat_fsize(fd, &sz);
  if (sz > (16u << 20)) { plat_close(fd); snprintf(why, cap, "unexpectedly large (%llu bytes)", (unsigned long long)sz); return -1; }
  char *text = malloc((size_t)sz + 1);
  size_t got = 0;
  if (!text) { plat_close(fd); snprintf(why, cap, "out of memory"); return -1; }
  e = plat_pread(fd, text, (size_t)sz, 0, &got);
  plat_close(fd);
  if (e) { free(text); snprintf(why, cap, "%s", plat_strerror(e)); return -1; }
  text[got] = 0;
  for (uint32_t i = 0; i < n; i++) bperp[i] = NAN;
  /* Python's dict: later lines override earlier ones, so apply assignments in file order. */
  int new_format = -1;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char *tok[16];
    int nt = split_tokens(line, tok, 16), used = nt < 16 ? nt : 16;
    if (new_format < 0) new_format = nt == 4;
    const char *set_d[2] = {NULL, NULL}, *set_v[2] = {NULL, NULL};
    if (new_format) {
      if (nt == 4) { set_d[0] = tok[1]; set_v[0] = tok[2]; }
    } else if (used >= 3) {
      set_d[0] = tok[1]; set_v[0] = tok[used - 2];
      set_d[1] = tok[2]; set_v[1] = tok[used - 1];
    }
    for (int a = 0; a < 2; a++) {
      if (!set_d[a] || strlen(set_d[a]) != 8) continue;
      for (uint32_t i = 0; i < n; i++)
        if (!memcmp(dates[i], set_d[a], 8)) bperp[i] = strtod(set_v[a], NULL);
    }
    /* new format: the reference date of the first line has bperp 0 (set before any line) */
    if (new_format && line == text && nt == 4)
      for (uint32_t i = 0; i < n; i++)
        if (strlen(tok[0]) == 8 && !memcmp(dates[i], tok[0], 8) && bperp[i] != bperp[i]) bperp[i] = 0.0;
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  int missing = 0;
  for (uint32_t i = 0; i < n; i++) missing += bperp[i] != bperp[i];
  return missing;
}

/* ---------------------------------------------------------------- parameter files */

int lb_format_dem_par(char *buf, size_t cap, uint32_t width, uint32_t length, double corner_lat,
                      double corner_lon, double post_lat, double post_lon, int after_clip) {
  char clat[40], clon[40], plat_[40], plon[40];
  lb_pyfloat(clat, sizeof clat, corner_lat);
  lb_pyfloat(clon, sizeof clon, corner_lon);
  lb_pyfloat(plat_, sizeof plat_, post_lat);
  lb_pyfloat(plon, sizeof plon, post_lon);
  return snprintf(buf, cap,
                  "Gamma DIFF&GEO DEM/MAP parameter file\ntitle: DEM\nDEM_projection:     EQA\n"
                  "data_format:        REAL*4\nDEM_hgt_offset:          0.00000\nDEM_scale:               1.00000\n"
                  "width: %u\nnlines: %u\ncorner_lat:%s%s  decimal degrees\ncorner_lon:%s%s  decimal degrees\n"
                  "post_lat: %s decimal degrees\npost_lon: %s decimal degrees\n\nellipsoid_name: WGS 84\n"
                  "ellipsoid_ra:        6378137.000   m\nellipsoid_reciprocal_flattening:  298.2572236\n\n"
                  "datum_name: WGS 1984\ndatum_shift_dx:              0.000   m\n"
                  "datum_shift_dy:              0.000   m\ndatum_shift_dz:              0.000   m\n"
                  "datum_scale_m:         0.00000e+00\ndatum_rotation_alpha:  0.00000e+00   arc-sec\n"
                  "datum_rotation_beta:   0.00000e+00   arc-sec\ndatum_rotation_gamma:  0.00000e+00   arc-sec\n"
                  "datum_country_list: Global Definition, WGS84, World\n",
                  width, length, after_clip ? " " : "     ", clat, after_clip ? " " : "    ", clon, plat_, plon);
}

int lb_format_mli_par(char *buf, size_t cap, uint32_t width, uint32_t length, double radar_freq_hz,
                      const char *center_time, int after_clip) {
  char freq[40];
  lb_pyfloat(freq, sizeof freq, radar_freq_hz);
  const char *sp = after_clip ? " " : "   ";
  int n = snprintf(buf, cap, "range_samples:%s%u\nazimuth_lines:%s%u\nradar_frequency: %s Hz\n", sp, width, sp, length, freq);
  if (center_time && n >= 0 && (size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, "center_time: %s\n", center_time);
  return n;
}

/* ---------------------------------------------------------------- Python repr */

int lb_pyfloat(char *buf, size_t cap, double v) {
  if (v != v) return snprintf(buf, cap, "nan");
  if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
  if (v == 0) return snprintf(buf, cap, signbit(v) ? "-0.0" : "0.0");
  char e[40];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  /* e = "[-]d.ddde[+-]XX": collect the digits and the decimal exponent */
  char dig[20];
  int nd = 0, neg = e[0] == '-';
  const char *p = e + neg;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') dig[nd++] = *p;
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  dig[nd] = 0;
  int decpt = atoi(p + 1) + 1; /* value = 0.DIGITS x 10^decpt */
  char out[64];
  int o = 0;
  if (neg) out[o++] = '-';
  if (decpt <= -4 || decpt > 16) {
    out[o++] = dig[0];
    if (nd > 1) { out[o++] = '.'; memcpy(out + o, dig + 1, (size_t)nd - 1); o += nd - 1; }
    o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
  } else if (decpt <= 0) {
    out[o++] = '0'; out[o++] = '.';
    for (int i = 0; i < -decpt; i++) out[o++] = '0';
    memcpy(out + o, dig, (size_t)nd); o += nd;
  } else if (decpt < nd) {
    memcpy(out + o, dig, (size_t)decpt); o += decpt;
    out[o++] = '.';
    memcpy(out + o, dig + decpt, (size_t)(nd - decpt)); o += nd - decpt;
  } else {
    memcpy(out + o, dig, (size_t)nd); o += nd;
    for (int i = nd; i < decpt; i++) out[o++] = '0';
    out[o++] = '.'; out[o++] = '0';
  }
  out[o] = 0;
  return snprintf(buf, cap, "%s", out);
}
