/* metrics.h: a Prometheus registry (counters, gauges, histograms with label sets) rendered in
 * the text exposition format 0.0.4 for /metrics.
 *
 *   nd_metric *req = nd_metrics_counter(reg, "netdra_requests_total", "Requests handled.",
 *                                       (const char *[]){"method", "code", NULL}, &err);
 *   nd_metric_inc(req, (const char *[]){"GET", "200"});
 *
 * Rendering: families sorted by name, each with "# HELP" and "# TYPE" lines, series sorted by
 * label values; label values and help are escaped (\\, \", \n); histograms print cumulative
 * _bucket{le=...} lines ending with le="+Inf", then _sum and _count.
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not "__*",
 * and not "le" on histograms). Registering the same name again with the same type and labels
 * returns the existing family; a conflicting one is an error.
 * All calls are thread-safe (one mutex per registry). A family keeps at most 10000 label sets;
 * updates for further sets are dropped (and counted in nd_metrics_dropped()). */
#ifndef NETDRA_METRICS_H
#define NETDRA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct nd_metrics nd_metrics;
typedef struct nd_metric nd_metric;

nd_metrics *nd_metrics_new(void);
void nd_metrics_free(nd_metrics *reg);

/* label_names: NULL-terminated array, or NULL for none. */
nd_metric *nd_metrics_counter(nd_metrics *reg, const char *name, const char *help,
                              const char *const *label_names, nd_error_t *err);
nd_metric *nd_metrics_gauge(nd_metrics *reg, const char *name, const char *help,
                            const char *const *label_names, nd_error_t *err);
/* buckets: strictly increasing upper bounds (without +Inf); NULL/0 = the Prometheus default
 * {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}. */
nd_metric *nd_metrics_histogram(nd_metrics *reg, const char *name, const char *help,
                                const char *const *label_names, const double *buckets,
                                size_t nbuckets, nd_error_t *err);
/* A label-less gauge whose value is read at render time (called with the registry locked:
 * it must not call back into the registry). */
nd_metric *nd_metrics_gauge_fn(nd_metrics *reg, const char *name, const char *help,
                               double (*fn)(void *data), void *data, nd_error_t *err);

/* label_values: one per label name (NULL when the family has none). Wrong-type calls and
 * negative counter increments are ignored. */
void nd_metric_inc(nd_metric *m, const char *const *label_values);
void nd_metric_add(nd_metric *m, const char *const *label_values, double v);
void nd_metric_set(nd_metric *m, const char *const *label_values, double v);
void nd_metric_observe(nd_metric *m, const char *const *label_values, double v);
/* Bring a counter series up to total, a monotonic count kept elsewhere (read at scrape time):
 * adds what total has over the series' value; nothing when it has not (a series still at 0 is
 * not created). Other types are ignored. */
void nd_metric_raise_to(nd_metric *m, const char *const *label_values, double total);
/* Forget one label set (a device that went away); a no-op when unknown. */
void nd_metric_remove(nd_metric *m, const char *const *label_values);
/* Current value of a counter/gauge series, or of a histogram's count; 0 when unknown. */
double nd_metric_value(nd_metric *m, const char *const *label_values);

/* The whole registry in the text format (malloc'd). */
char *nd_metrics_render(nd_metrics *reg);
/* Updates dropped by the label-set limit. */
uint64_t nd_metrics_dropped(nd_metrics *reg);

#define ND_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
