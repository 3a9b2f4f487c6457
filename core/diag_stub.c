#include "diag_int.h"
void dg_phase_api(struct diag *d) { (void)d; }
