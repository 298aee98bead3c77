/* quantity.h: Kubernetes resource quantities ("64Gi", "500m", "1.5e3") parsed, compared and
 * printed exactly like the API server (k8s.io/apimachinery/pkg/api/resource).
 *
 * Grammar:  [+-] ( digits | digits.digits | digits. | .digits ) suffix
 *   suffix: binary Ki Mi Gi Ti Pi Ei (2^10..2^60), decimal n u m "" k M G T P E (10^-9..10^18),
 *           or a decimal exponent e<int> / E<int> ("1e3", "2E-3", "1e+6").
 *   The API server's quirks are kept: a sign or number without digits is zero ("-", ".", "Ki"),
 *   "1." is allowed, no whitespace anywhere.
 *
 * Value rules (as ParseQuantity):
 *   - the value is exact, but anything below 1n is rounded up away from zero (0.1n -> 1n);
 *   - binary quantities are capped at 2^63-1 in magnitude; decimal ones are not capped;
 *   - a binary quantity with 0 < |v| < 1 becomes DecimalSI ("0.5Ki" is 512, DecimalSI).
 *   Our limits (documented deviations): at most 38 significant digits and a decimal exponent
 *   within int32; beyond that parsing fails with an error instead of losing precision.
 *
 * Canonical form (Quantity.String()), the suffix family of the input is kept:
 *   - zero is "0";
 *   - DecimalSI / DecimalExponent: trailing zeros move into the exponent, the exponent is then
 *     lowered to a multiple of 3: "1.5" -> "1500m", "1000" -> "1k", "1.5e3" -> "1500",
 *     "1e5" -> "100e3", "0.1" -> "100m". DecimalSI exponents beyond n..E print without a
 *     suffix, as the API server does ("1000E" -> "1").
 *   - BinarySI: if |v| < 1024 or v is not an integer, printed as DecimalSI ("0.5Gi" ->
 *     "512Mi", "1.5Gi" -> "1536Mi", "0.5Ki" -> "512", "1.5Ki" -> "1536");
 *     otherwise the largest power of 1024 that divides v: "1024Mi" -> "1Gi", "1000Mi" ->
 *     "1000Mi". */
#ifndef NETDRA_QUANTITY_H
#define NETDRA_QUANTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
  ND_QUANTITY_DECIMAL_SI = 0,     /* "500m", "12k", "3" */
  ND_QUANTITY_BINARY_SI,          /* "64Gi" */
  ND_QUANTITY_DECIMAL_EXPONENT,   /* "1e3" */
} nd_quantity_format;

/* value = mant * 10^scale, exactly. Normalised: mant has no trailing decimal zeros; zero is
 * {0, 0}. scale >= -9 always. */
typedef struct {
  __int128 mant;
  int32_t scale;
  nd_quantity_format format;
} nd_quantity;

/* Longest canonical string, with its NUL. */
#define ND_QUANTITY_STR_MAX 64

/* Parse str. On error: -1 and err says `quantity "<str>": <why>`, *out untouched. */
int nd_quantity_parse(const char *str, nd_quantity *out, nd_error_t *err);
/* Canonical string of q into buf (ND_QUANTITY_STR_MAX bytes); returns buf. */
char *nd_quantity_format_canonical(const nd_quantity *q, char buf[ND_QUANTITY_STR_MAX]);
/* Parse and print canonically in one step; malloc'd string or NULL with err. */
char *nd_quantity_canonical(const char *str, nd_error_t *err);

/* -1, 0, 1 as a <, ==, > b (formats are ignored, as Quantity.Cmp does). */
int nd_quantity_cmp(const nd_quantity *a, const nd_quantity *b);
int nd_quantity_sign(const nd_quantity *q);
bool nd_quantity_is_zero(const nd_quantity *q);

/* v * 10^scale in the given format (scale >= -9). */
nd_quantity nd_quantity_from_scaled(int64_t v, int32_t scale, nd_quantity_format format);
static inline nd_quantity nd_quantity_from_int64(int64_t v, nd_quantity_format format) {
  return nd_quantity_from_scaled(v, 0, format);
}

/* ceil(q / 10^scale) rounded away from zero, as Quantity.ScaledValue: scale 0 is Value(),
 * -3 is MilliValue(). -1 with err when the result does not fit an int64. */
int nd_quantity_scaled_value(const nd_quantity *q, int32_t scale, int64_t *out, nd_error_t *err);

/* a + b (format of a, or of b when a is zero, as Quantity.Add). -1 with err on overflow of the
 * 38-digit representation. */
int nd_quantity_add(const nd_quantity *a, const nd_quantity *b, nd_quantity *out, nd_error_t *err);

#endif
