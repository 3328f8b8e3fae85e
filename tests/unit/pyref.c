/* pyref.c — see pyref.h. */
#include "pyref.h"
#include "check.h"
#include <stdio.h>

const char *pyref_python(const char *modules) {
  static const char *cands[] = {"/usr/bin/python3", "python3"};
  for (int i = 0; i < 2; i++)
    if (check_sh("%s -c 'import %s' >/dev/null 2>&1", cands[i], modules) == 0) return cands[i];
  return NULL;
}

int pyref_write(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t k = fwrite(p, 1, n, f);
  return fclose(f) == 0 && k == n ? 0 : -1;
}

int pyref_read(const char *path, void *p, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t k = fread(p, 1, n, f);
  fclose(f);
  return k == n ? 0 : -1;
}
