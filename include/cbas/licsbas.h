/* licsbas.h — LiCSBAS's small conventions, reproduced exactly (digest §0 and §1–§5):
 * interferogram folder names and dates, pixel ranges (read_range), geographic ranges
 * (read_range_geo, NumPy round-half-even), the multilook rule of step 02 (NumPy's float32
 * nanmean, summation order included), coherence bytes, the average coherence of step 04,
 * the baselines file (read_bperp_file) and Python's repr of floats for the text files LiCSBAS
 * writes (EQA.dem_par, slc.mli.par).
 *
 * Everything here is pure (no I/O except lb_read_bperp), thread-safe and allocation-free.
 */
#ifndef CBAS_LICSBAS_H
#define CBAS_LICSBAS_H
#include <stddef.h>
#include <stdint.h>

/* ---- dates and interferogram names (digest §0.3) ---- */

/* 1 if s starts with 8 digits forming a valid proleptic Gregorian date YYYYMMDD. */
int lb_valid_date(const char *s);
/* Day number (days since 1970-01-01) of a valid YYYYMMDD string. */
long lb_day_number(const char *s);
/* Checks an interferogram folder name "YYYYMMDD_YYYYMMDD": LiCSBAS's own test (17 characters,
 * '2' at 0 and 9, '_' at 8) plus digits, calendar-valid dates and primary < secondary.
 * Returns NULL if valid, else a static text saying what is wrong. */
const char *lb_ifg_name_problem(const char *name);

/* ---- ranges (digest §0.3; LiCSBAS_tools_lib read_range / read_range_geo) ---- */

/* Half-open pixel window [x0, x1) x [y0, y1). */
typedef struct lb_range { uint32_t x0, x1, y0, y1; } lb_range;

/* Parses "X1:X2/Y1:Y2" against a width x length raster: X2 = 0 means width, Y2 = 0 length.
 * Refused (return -1, reason in why) as LiCSBAS refuses it: X1 > W-1, X2 > W, Y1 > L-1, Y2 > L,
 * X1 >= X2 or Y1 >= Y2; also anything that is not four unsigned integers. */
int lb_read_range(const char *s, uint32_t width, uint32_t length, lb_range *out, char *why,
                  size_t why_cap);
/* Parses "LONW/LONE/LATS/LATN" and converts it as read_range_geo does for a grid whose NW
 * pixel centre is (lat1, lon1) with spacing post_lat (< 0), post_lon (> 0): the pixels whose
 * centres are nearest each bound are included, round-half-even, bounds beyond the grid clamp
 * to it. Returns -1 (reason in why) for malformed text or an empty window (the area lies
 * outside the grid or its bounds are swapped). */
int lb_read_range_geo(const char *s, uint32_t width, uint32_t length, double lat1,
                      double post_lat, double lon1, double post_lon, lb_range *out, char *why,
                      size_t why_cap);

/* ---- multilook (step 02, LiCSBAS_tools_lib.multilook with n_valid_thre = 0.5) ---- */

/* Sum of n float32 values at stride (elements), NaN counted as 0, in exactly the order and
 * precision of NumPy's float32 pairwise summation (8 accumulators from 8 values on). */
float lb_np_sum_f32(const float *a, size_t n, size_t stride);
/* One output row of an n x n multilook: src holds n rows (row r at src + r*src_stride) of at
 * least n_out*n values with NaN = no data; dst[j] = float32 nanmean of the block, or NaN when
 * fewer than half of the n*n values are valid (strict). Bit-identical to NumPy's
 * nanmean(reshape(...), axis=(1, 3)) on float32, which sums each block row pairwise and adds
 * the row sums in order — except when the multilooked frame is one pixel wide (flat = 1):
 * NumPy then sums the n*n block as one contiguous run. */
void lb_multilook_row(const float *src, size_t src_stride, uint32_t n_out, int n, int flat, float *dst);

/* ---- coherence (step 02 cc bytes, step 04 coh_avg) ---- */

/* NumPy's astype(uint8) of a float32 coherence*255 value as LiCSBAS runs it on x86-64:
 * NaN -> 0, otherwise truncation toward zero, wrapped to 8 bits. */
uint8_t lb_cc_byte(float v);
/* Running coh_avg of step 04 over one row: for each pixel, sum += byte/255 (float32) and
 * n += (byte != 0). Call once per interferogram in list order. */
void lb_coh_accumulate(const uint8_t *cc, uint32_t n, float *sum, int16_t *count);
/* Finishes coh_avg: sum / count in float32, with the divisor 99999 stored in int16 (as NumPy
 * 1.x wraps it: -31073) where count is 0. */
void lb_coh_finish(const float *sum, const int16_t *count, uint32_t n, float *coh_avg);
/* Step 04's test "coh_avg <= thre" done in float32, as NumPy compares an array to a float. */
int lb_coh_masked(float coh_avg, double thre);

/* ---- baselines (LiCSBAS_io_lib.read_bperp_file) ---- */

/* Reads perpendicular baselines (m) for n dates (YYYYMMDD strings, 9 bytes each) from a
 * LiCSAR baselines file, new (4 columns) or old (9 columns) format. bperp[i] = NaN when the
 * date is not in the file. Returns the number of dates not found, or -1 if the file cannot be
 * read (the OS error text in why). */
int lb_read_bperp(const char *path, const char (*dates)[9], uint32_t n, double *bperp,
                  char *why, size_t why_cap);

/* ---- parameter files LiCSBAS writes (step 02; step 05 rewrites some values) ---- */

/* EQA.dem_par text (GAMMA style) with numbers in Python's repr. after_clip = 0: as step 02
 * writes it ("corner_lat:     V"); 1: as step 05's substitution leaves it ("corner_lat: V").
 * Returns the length (snprintf semantics). */
int lb_format_dem_par(char *buf, size_t cap, uint32_t width, uint32_t length, double corner_lat,
                      double corner_lon, double post_lat, double post_lon, int after_clip);
/* slc.mli.par text: range_samples, azimuth_lines, radar_frequency (Hz, Python repr) and, if
 * center_time is not NULL, center_time; after_clip as above ("range_samples:   W" vs
 * "range_samples: W"). */
int lb_format_mli_par(char *buf, size_t cap, uint32_t width, uint32_t length, double radar_freq_hz,
                      const char *center_time, int after_clip);

/* ---- Python's str(float) ---- */

/* Writes Python 3's repr of v ("5405000000.0", "-0.00083333", "1e-05", "nan") into buf.
 * Returns the length. */
int lb_pyfloat(char *buf, size_t cap, double v);
#endif
