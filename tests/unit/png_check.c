/* png_check.c — independent PNG read-back for the tests (see png_check.h). */
#include "png_check.h"
#include "check.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  uint8_t *b = malloc(cap);
  for (;;) {
    if (len == cap) b = realloc(b, cap *= 2);
    size_t got = fread(b + len, 1, cap - len, f);
    if (!got) break;
    len += got;
  }
  fclose(f);
  *n = len;
  return b;
}

static const char *python_with_pil(void) {
  static const char *cands[] = {"python3", "/usr/bin/python3"};
  for (int i = 0; i < 2; i++)
    if (check_sh("%s -c 'import PIL' >/dev/null 2>&1", cands[i]) == 0) return cands[i];
  return NULL;
}

static int hdr_int(const char *hdr, const char *key) {
  const char *p = strstr(hdr, key);
  if (!p) return -1;
  p = strchr(p, '=');
  return p ? atoi(p + 1) : -1;
}

uint8_t *pngck_decode(const char *path, int decoder, uint32_t *w, uint32_t *h, int *channels) {
  char raw[1300];
  snprintf(raw, sizeof raw, "%s.%s.raw", path, decoder == PNGCK_GDAL ? "gdal" : "pil");
  size_t n = 0;
  uint8_t *b;
  if (decoder == PNGCK_PIL) {
    const char *py = python_with_pil();
    if (!py) { printf("# no python3 with Pillow (apt-get install python3-pil)\n"); return NULL; }
    if (check_sh("%s tests/interop/png_decode.py '%s' '%s'", py, path, raw) != 0) return NULL;
    b = slurp(raw, &n);
    if (!b) return NULL;
    unsigned ww, hh; int cc, off = 0;
    const uint8_t *nl = memchr(b, '\n', n < 64 ? n : 64); /* pixels may look like spaces */
    if (nl) off = (int)(nl - b) + 1;
    if (!nl || sscanf((char *)b, "%u %u %d", &ww, &hh, &cc) != 3 ||
        n - (size_t)off != (size_t)ww * hh * (size_t)cc) { free(b); printf("# bad decoder output\n"); return NULL; }
    memmove(b, b + off, n - (size_t)off);
    *w = ww; *h = hh; *channels = cc;
  } else {
    if (check_sh("gdal_translate -q -of ENVI -co INTERLEAVE=BIP '%s' '%s' >/dev/null", path, raw) != 0) {
      printf("# gdal_translate failed on %s\n", path);
      return NULL;
    }
    char hp[1400]; /* the ENVI driver replaces the extension: x.gdal.raw -> x.gdal.hdr */
    snprintf(hp, sizeof hp, "%s.gdal.hdr", path);
    size_t hn;
    uint8_t *hdr = slurp(hp, &hn);
    if (!hdr) return NULL;
    hdr = realloc(hdr, hn + 1);
    hdr[hn] = 0;
    int sw = hdr_int((char *)hdr, "samples"), sh = hdr_int((char *)hdr, "lines"),
        sb = hdr_int((char *)hdr, "bands");
    free(hdr);
    b = slurp(raw, &n);
    if (!b || sw <= 0 || sh <= 0 || sb <= 0 || n != (size_t)sw * sh * sb) { free(b); return NULL; }
    *w = (uint32_t)sw; *h = (uint32_t)sh; *channels = sb;
  }
  return b;
}

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pngck_structure(const char *path, uint32_t w, uint32_t h, int channels, int *n_idat,
                    unsigned *filters_used, char *why, size_t cap) {
  size_t n;
  uint8_t *d = slurp(path, &n);
  int rc = -1;
  uint8_t *z = NULL, *raw = NULL;
  size_t zn = 0;
  *n_idat = 0;
  *filters_used = 0;
  if (!d) { snprintf(why, cap, "cannot read"); return -1; }
  if (n < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8)) { snprintf(why, cap, "signature"); goto out; }
  z = malloc(n);
  int k = 0, seen_end = 0;
  for (size_t pos = 8; pos < n; k++) {
    if (pos + 12 > n) { snprintf(why, cap, "truncated"); goto out; }
    uint32_t len = be32(d + pos);
    if (pos + 12 + (size_t)len > n) { snprintf(why, cap, "chunk overruns file"); goto out; }
    const uint8_t *type = d + pos + 4, *body = d + pos + 8;
    if (crc_bitwise(type, (size_t)len + 4) != be32(body + len)) {
      snprintf(why, cap, "CRC of chunk %.4s", (const char *)type); goto out;
    }
    if (k == 0) {
      int ct = channels == 1 ? 0 : channels == 3 ? 2 : 6;
      if (memcmp(type, "IHDR", 4) || len != 13 || be32(body) != w || be32(body + 4) != h ||
          body[8] != 8 || body[9] != ct || body[10] || body[11] || body[12]) {
        snprintf(why, cap, "IHDR"); goto out;
      }
    }
    if (!memcmp(type, "IDAT", 4)) { memcpy(z + zn, body, len); zn += len; (*n_idat)++; }
    if (!memcmp(type, "IEND", 4)) { seen_end = 1; if (pos + 12 + len != n) { snprintf(why, cap, "data after IEND"); goto out; } }
    pos += 12 + (size_t)len;
  }
  if (!seen_end) { snprintf(why, cap, "no IEND"); goto out; }
  size_t rawn = (size_t)h * (1 + (size_t)w * channels);
  raw = malloc(rawn + 1);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  inflateInit(&zs);
  zs.next_in = z; zs.avail_in = (uInt)zn; zs.next_out = raw; zs.avail_out = (uInt)rawn + 1;
  int zr = inflate(&zs, Z_FINISH);
  size_t got = rawn + 1 - zs.avail_out;
  inflateEnd(&zs);
  if (zr != Z_STREAM_END || got != rawn) { snprintf(why, cap, "zlib stream (%d, %zu of %zu bytes)", zr, got, rawn); goto out; }
  /* Adler-32 by hand (RFC 1950) against the stream trailer. */
  uint32_t s1 = 1, s2 = 0;
  for (size_t i = 0; i < rawn; i++) { s1 = (s1 + raw[i]) % 65521u; s2 = (s2 + s1) % 65521u; }
  if (zn < 4 || be32(z + zn - 4) != (s2 << 16 | s1)) { snprintf(why, cap, "Adler-32"); goto out; }
  for (uint32_t y = 0; y < h; y++) {
    uint8_t f = raw[(size_t)y * (1 + (size_t)w * channels)];
    if (f > 4) { snprintf(why, cap, "filter type %d in row %u", f, y); goto out; }
    *filters_used |= 1u << f;
  }
  rc = 0;
out:
  free(d); free(z); free(raw);
  return rc;
}
