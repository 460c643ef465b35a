/* What the plain TKM types own (tkm_types.h). */
#include "tkm_types.h"

#include <stdlib.h>

void tkm_calls_free(struct tkm_call *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].blocks);
        free(v[i].owners);
        free(v[i].targets);
    }
    free(v);
}
