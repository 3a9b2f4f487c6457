/* Shared between the TU built on the frozen headers and the test built
 * on the current ones: plain types only. */
#ifndef FX10_SIZES_H
#define FX10_SIZES_H

#include <stddef.h>

#define FX10_NSIZES 13
#define FX10_NFIXED 13

extern const size_t fx10_sizes[FX10_NSIZES];
extern const size_t fx10_fixed[FX10_NFIXED];

#endif
