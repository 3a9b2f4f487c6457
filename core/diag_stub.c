#include "diag_int.h"
void dg_phase_delivery(struct diag *d) { (void)d; }
void dg_phase_api(struct diag *d) { (void)d; }
