/* regression_main.c: runs a fuzz harness over saved inputs without libFuzzer: every file
 * named on the command line, or inside a directory named there, is passed once to
 * LLVMFuzzerTestOneInput. Fails when no input was found. Used for the fuzz-regression ctests
 * in every build (gcc and ASan). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      cap *= 2;
      uint8_t *nb = realloc(buf, cap);
      if (nb == NULL)
        free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (buf == NULL) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  /* an exact-size copy so that ASan sees reads past the end */
  uint8_t *exact = malloc(len ? len : 1);
  if (exact == NULL) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  size_t ran = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) < 0)
        return 1;
      ran++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (d == NULL) {
      perror(argv[i]);
      return 1;
    }
    char **names = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      char **nn = realloc(names, (count + 1) * sizeof(*nn));
      if (nn == NULL)
        return 1;
      names = nn;
      if (asprintf(&names[count], "%s/%s", argv[i], e->d_name) < 0)
        return 1;
      count++;
    }
    closedir(d);
    qsort(names, count, sizeof(*names), compare_names);
    for (size_t j = 0; j < count; j++) {
      printf("input %s\n", names[j]);
      fflush(stdout);
      if (run_file(names[j]) < 0)
        return 1;
      ran++;
      free(names[j]);
    }
    free(names);
  }
  if (ran == 0) {
    fprintf(stderr, "no inputs found: give corpus directories or files\n");
    return 1;
  }
  printf("%zu inputs ran without a failure\n", ran);
  return 0;
}
