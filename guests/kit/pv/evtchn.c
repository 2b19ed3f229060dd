// evtchn.c (para) -- replaces pic.c: IRQ n is event-channel port n, delivered
// at vector T_IRQ0 + n. Unmask is a hypercall (rare); EOI is a plain write to
// the shared page (clearing the in-service bit), no exit.
#include "kit.h"

void pic_init(void) {}  // the VMM starts with every port masked

void pic_unmask(int irq) { hypercall(HC_EVTCHN_OP, EVTCHNOP_UNMASK, irq, 0); }

void pic_eoi(int irq) { pv_clear_bit(&PV_SHARED->evtchn_in_service, irq); }
