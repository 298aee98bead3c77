/* metrics.c: Prometheus registry and text exposition rendering; see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

#define MAX_SERIES 10000

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM, M_GAUGE_FN } metric_type;

typedef struct {
  char **values;
  double value;       /* counter / gauge */
  uint64_t *buckets;  /* histogram: per-bucket (non-cumulative) counts */
  double sum;
  uint64_t count;
} series;

struct nd_metric {
  nd_metrics *reg;
  metric_type type;
  char *name, *help;
  char **labels;
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  series *series;
  size_t nseries, cap;
  double (*fn)(void *);
  void *fn_data;
};

struct nd_metrics {
  pthread_mutex_t lock;
  nd_metric **families;
  size_t nfamilies;
  uint64_t dropped;
};

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

nd_metrics *nd_metrics_new(void) {
  nd_metrics *r = calloc(1, sizeof(*r));
  if (r == NULL)
    abort();
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

static void free_series(nd_metric *m, series *s) {
  for (size_t i = 0; i < m->nlabels; i++)
    free(s->values[i]);
  free(s->values);
  free(s->buckets);
}

void nd_metrics_free(nd_metrics *r) {
  if (r == NULL)
    return;
  for (size_t i = 0; i < r->nfamilies; i++) {
    nd_metric *m = r->families[i];
    for (size_t j = 0; j < m->nseries; j++)
      free_series(m, &m->series[j]);
    free(m->series);
    for (size_t j = 0; j < m->nlabels; j++)
      free(m->labels[j]);
    free(m->labels);
    free(m->bounds);
    free(m->name);
    free(m->help);
    free(m);
  }
  free(r->families);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static bool valid_name(const char *s, bool colons) {
  if (s == NULL || *s == '\0')
    return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (colons && c == ':') || (p != s && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s ? s : "");
  if (d == NULL)
    abort();
  return d;
}

static const char *type_str(metric_type t) {
  switch (t) {
  case M_COUNTER:
    return "counter";
  case M_HISTOGRAM:
    return "histogram";
  case M_GAUGE:
  case M_GAUGE_FN:
  default:
    return "gauge";
  }
}

static bool same_shape(const nd_metric *m, metric_type t, const char *const *labels,
                       const double *bounds, size_t nbounds) {
  if (m->type != t)
    return false;
  size_t n = 0;
  for (; labels && labels[n]; n++)
    if (n >= m->nlabels || strcmp(labels[n], m->labels[n]) != 0)
      return false;
  if (n != m->nlabels || (t == M_HISTOGRAM && nbounds != m->nbounds))
    return false;
  for (size_t i = 0; t == M_HISTOGRAM && i < nbounds; i++)
    if (bounds[i] != m->bounds[i])
      return false;
  return true;
}

static nd_metric *register_family(nd_metrics *r, metric_type t, const char *name,
                                  const char *help, const char *const *labels,
                                  const double *bounds, size_t nbounds, nd_error_t *err) {
  if (!valid_name(name, true))
    return nd_error_make(err, EINVAL, "metric name \"%s\": must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                         name ? name : ""),
           NULL;
  size_t nlabels = 0;
  for (; labels && labels[nlabels]; nlabels++) {
    const char *l = labels[nlabels];
    if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
        (t == M_HISTOGRAM && strcmp(l, "le") == 0))
      return nd_error_make(err, EINVAL, "metric %s: label name \"%s\" is not allowed", name, l),
             NULL;
    for (size_t j = 0; j < nlabels; j++)
      if (strcmp(labels[j], l) == 0)
        return nd_error_make(err, EINVAL, "metric %s: label \"%s\" given twice", name, l), NULL;
  }
  if (t == M_HISTOGRAM) {
    if (bounds == NULL || nbounds == 0) {
      bounds = default_buckets;
      nbounds = sizeof(default_buckets) / sizeof(default_buckets[0]);
    }
    for (size_t i = 0; i < nbounds; i++)
      if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
        return nd_error_make(err, EINVAL,
                             "metric %s: bucket bounds must be finite and strictly increasing",
                             name),
               NULL;
  }
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->nfamilies; i++) {
    nd_metric *m = r->families[i];
    if (strcmp(m->name, name) == 0) {
      bool same = t != M_GAUGE_FN && same_shape(m, t, labels, bounds, nbounds);
      pthread_mutex_unlock(&r->lock);
      if (!same)
        return nd_error_make(err, EEXIST,
                             "metric %s: already registered with another type or labels", name),
               NULL;
      return m;
    }
  }
  nd_metric *m = calloc(1, sizeof(*m));
  nd_metric **fam = realloc(r->families, (r->nfamilies + 1) * sizeof(*fam));
  if (m == NULL || fam == NULL)
    abort();
  r->families = fam;
  m->reg = r;
  m->type = t;
  m->name = xstrdup(name);
  m->help = xstrdup(help);
  m->nlabels = nlabels;
  m->labels = calloc(nlabels + 1, sizeof(char *));
  if (m->labels == NULL)
    abort();
  for (size_t i = 0; i < nlabels; i++)
    m->labels[i] = xstrdup(labels[i]);
  if (t == M_HISTOGRAM) {
    m->nbounds = nbounds;
    m->bounds = malloc(nbounds * sizeof(double));
    if (m->bounds == NULL)
      abort();
    memcpy(m->bounds, bounds, nbounds * sizeof(double));
  }
  r->families[r->nfamilies++] = m;
  pthread_mutex_unlock(&r->lock);
  return m;
}

nd_metric *nd_metrics_counter(nd_metrics *r, const char *name, const char *help,
                              const char *const *labels, nd_error_t *err) {
  return register_family(r, M_COUNTER, name, help, labels, NULL, 0, err);
}
nd_metric *nd_metrics_gauge(nd_metrics *r, const char *name, const char *help,
                            const char *const *labels, nd_error_t *err) {
  return register_family(r, M_GAUGE, name, help, labels, NULL, 0, err);
}
nd_metric *nd_metrics_histogram(nd_metrics *r, const char *name, const char *help,
                                const char *const *labels, const double *buckets,
                                size_t nbuckets, nd_error_t *err) {
  return register_family(r, M_HISTOGRAM, name, help, labels, buckets, nbuckets, err);
}
nd_metric *nd_metrics_gauge_fn(nd_metrics *r, const char *name, const char *help,
                               double (*fn)(void *data), void *data, nd_error_t *err) {
  nd_metric *m = register_family(r, M_GAUGE_FN, name, help, NULL, NULL, 0, err);
  if (m != NULL) {
    pthread_mutex_lock(&r->lock);
    m->fn = fn;
    m->fn_data = data;
    pthread_mutex_unlock(&r->lock);
  }
  return m;
}

/* Find (or create, when create) the series for values; called locked. */
static series *find_series(nd_metric *m, const char *const *values, bool create) {
  for (size_t i = 0; i < m->nseries; i++) {
    series *s = &m->series[i];
    size_t j = 0;
    for (; j < m->nlabels; j++)
      if (strcmp(s->values[j], values && values[j] ? values[j] : "") != 0)
        break;
    if (j == m->nlabels)
      return s;
  }
  if (!create)
    return NULL;
  if (m->nseries >= MAX_SERIES) {
    m->reg->dropped++;
    return NULL;
  }
  ND_GROW(m->series, m->cap, m->nseries + 1, 4);
  series *s = &m->series[m->nseries++];
  memset(s, 0, sizeof(*s));
  s->values = calloc(m->nlabels + 1, sizeof(char *));
  if (s->values == NULL)
    abort();
  for (size_t j = 0; j < m->nlabels; j++)
    s->values[j] = xstrdup(values ? values[j] : "");
  if (m->type == M_HISTOGRAM) {
    s->buckets = calloc(m->nbounds + 1, sizeof(uint64_t));
    if (s->buckets == NULL)
      abort();
  }
  return s;
}

static void update(nd_metric *m, const char *const *values, metric_type want, double v, int op) {
  if (m == NULL || m->type != want)
    return;
  pthread_mutex_lock(&m->reg->lock);
  series *s = find_series(m, values, true);
  if (s != NULL) {
    if (op == 0) {
      s->value += v;
    } else if (op == 1) {
      s->value = v;
    } else {
      size_t b = 0;
      while (b < m->nbounds && v > m->bounds[b])
        b++;
      s->buckets[b]++;
      s->sum += v;
      s->count++;
    }
  }
  pthread_mutex_unlock(&m->reg->lock);
}

void nd_metric_inc(nd_metric *m, const char *const *values) {
  if (m != NULL && m->type == M_GAUGE)
    update(m, values, M_GAUGE, 1, 0);
  else
    update(m, values, M_COUNTER, 1, 0);
}
void nd_metric_add(nd_metric *m, const char *const *values, double v) {
  if (m != NULL && m->type == M_GAUGE)
    update(m, values, M_GAUGE, v, 0);
  else if (v >= 0)
    update(m, values, M_COUNTER, v, 0);
}
void nd_metric_raise_to(nd_metric *m, const char *const *values, double total) {
  if (m == NULL || m->type != M_COUNTER)
    return;
  pthread_mutex_lock(&m->reg->lock);
  series *s = find_series(m, values, false);
  if (s == NULL && total > 0)
    s = find_series(m, values, true);
  if (s != NULL && total > s->value)
    s->value = total;
  pthread_mutex_unlock(&m->reg->lock);
}
void nd_metric_set(nd_metric *m, const char *const *values, double v) {
  update(m, values, M_GAUGE, v, 1);
}
void nd_metric_observe(nd_metric *m, const char *const *values, double v) {
  if (!isnan(v))
    update(m, values, M_HISTOGRAM, v, 2);
}

void nd_metric_remove(nd_metric *m, const char *const *values) {
  if (m == NULL)
    return;
  pthread_mutex_lock(&m->reg->lock);
  series *s = find_series(m, values, false);
  if (s != NULL) {
    size_t i = (size_t)(s - m->series);
    free_series(m, s);
    memmove(&m->series[i], &m->series[i + 1], (m->nseries - i - 1) * sizeof(series));
    m->nseries--;
  }
  pthread_mutex_unlock(&m->reg->lock);
}

double nd_metric_value(nd_metric *m, const char *const *values) {
  if (m == NULL)
    return 0;
  pthread_mutex_lock(&m->reg->lock);
  double v = 0;
  if (m->type == M_GAUGE_FN) {
    v = m->fn ? m->fn(m->fn_data) : 0;
  } else {
    series *s = find_series(m, values, false);
    if (s != NULL)
      v = m->type == M_HISTOGRAM ? (double)s->count : s->value;
  }
  pthread_mutex_unlock(&m->reg->lock);
  return v;
}

uint64_t nd_metrics_dropped(nd_metrics *r) {
  pthread_mutex_lock(&r->lock);
  uint64_t d = r->dropped;
  pthread_mutex_unlock(&r->lock);
  return d;
}

/* ---- rendering ---- */

static void put_double(FILE *out, double v) {
  if (isnan(v)) {
    fputs("NaN", out);
  } else if (isinf(v)) {
    fputs(v > 0 ? "+Inf" : "-Inf", out);
  } else {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) { /* shortest text that reads back exactly */
      snprintf(buf, sizeof(buf), "%.*g", prec, v);
      if (strtod(buf, NULL) == v)
        break;
    }
    fputs(buf, out);
  }
}

static void put_escaped(FILE *out, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\\\", out);
    else if (*s == '\n')
      fputs("\\n", out);
    else if (quote && *s == '"')
      fputs("\\\"", out);
    else
      fputc(*s, out);
  }
}

static void put_labels(FILE *out, const nd_metric *m, const series *s, const char *le) {
  if (m->nlabels == 0 && le == NULL)
    return;
  fputc('{', out);
  for (size_t i = 0; i < m->nlabels; i++) {
    fprintf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
    put_escaped(out, s->values[i], true);
    fputc('"', out);
  }
  if (le != NULL)
    fprintf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
  fputc('}', out);
}

static int cmp_family(const void *a, const void *b) {
  return strcmp((*(nd_metric *const *)a)->name, (*(nd_metric *const *)b)->name);
}

static int cmp_series(const void *a, const void *b, void *nlabels) {
  const series *x = *(const series *const *)a, *y = *(const series *const *)b;
  for (size_t i = 0; i < *(const size_t *)nlabels; i++) {
    int c = strcmp(x->values[i], y->values[i]);
    if (c != 0)
      return c;
  }
  return 0;
}

static void render_family(FILE *out, nd_metric *m) {
  fprintf(out, "# HELP %s ", m->name);
  put_escaped(out, m->help, false);
  fprintf(out, "\n# TYPE %s %s\n", m->name, type_str(m->type));
  if (m->type == M_GAUGE_FN) {
    fprintf(out, "%s ", m->name);
    put_double(out, m->fn ? m->fn(m->fn_data) : 0);
    fputc('\n', out);
    return;
  }
  series **order = malloc((m->nseries + 1) * sizeof(*order));
  if (order == NULL)
    abort();
  for (size_t i = 0; i < m->nseries; i++)
    order[i] = &m->series[i];
  qsort_r(order, m->nseries, sizeof(*order), cmp_series, &m->nlabels);
  for (size_t i = 0; i < m->nseries; i++) {
    const series *s = order[i];
    if (m->type != M_HISTOGRAM) {
      fputs(m->name, out);
      put_labels(out, m, s, NULL);
      fputc(' ', out);
      put_double(out, s->value);
      fputc('\n', out);
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= m->nbounds; b++) {
      cumulative += s->buckets[b];
      char le[40];
      if (b == m->nbounds) {
        strcpy(le, "+Inf");
      } else {
        char *txt = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&txt, &len);
        if (mem == NULL)
          abort();
        put_double(mem, m->bounds[b]);
        fclose(mem);
        snprintf(le, sizeof(le), "%s", txt);
        free(txt);
      }
      fprintf(out, "%s_bucket", m->name);
      put_labels(out, m, s, le);
      fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    fprintf(out, "%s_sum", m->name);
    put_labels(out, m, s, NULL);
    fputc(' ', out);
    put_double(out, s->sum);
    fprintf(out, "\n%s_count", m->name);
    put_labels(out, m, s, NULL);
    fprintf(out, " %llu\n", (unsigned long long)s->count);
  }
  free(order);
}

char *nd_metrics_render(nd_metrics *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (out == NULL)
    abort();
  pthread_mutex_lock(&r->lock);
  nd_metric **sorted = malloc((r->nfamilies + 1) * sizeof(*sorted));
  if (sorted == NULL)
    abort();
  if (r->nfamilies > 0)
    memcpy(sorted, r->families, r->nfamilies * sizeof(*sorted));
  qsort(sorted, r->nfamilies, sizeof(*sorted), cmp_family);
  for (size_t i = 0; i < r->nfamilies; i++)
    render_family(out, sorted[i]);
  pthread_mutex_unlock(&r->lock);
  free(sorted);
  fclose(out);
  return text;
}
