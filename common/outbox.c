/* Core action queue; see outbox.h. */
#include "outbox.h"

#include <stdlib.h>

#include "err.h"

void vmca_outbox_init(struct vmca_outbox *o, uint32_t self, uint64_t incarnation,
                      size_t max_frame)
{
    *o = (struct vmca_outbox){.self = self, .incarnation = incarnation,
                              .max_frame = max_frame};
}

void vmca_outbox_free(struct vmca_outbox *o)
{
    vmca_actions_free(o->v, o->n);
    o->v = NULL;
    o->n = o->cap = 0;
}

int vmca_outbox_send(struct vmca_outbox *o, uint32_t to, Vmca__Envelope *env)
{
    return vmca_outbox_send_on(o, VMCA_LINK_NODE, to, env);
}

int vmca_outbox_send_on(struct vmca_outbox *o, enum vmca_link link, uint32_t to,
                        Vmca__Envelope *env)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct vmca_action *v = realloc(o->v, cap * sizeof *v);
        if (!v)
            return VMCA_ERR_NOMEM;
        o->v = v;
        o->cap = cap;
    }
    env->version = VMCA_PROTO_VERSION;
    env->from = o->self;
    env->seq = o->seq + 1;
    env->incarnation = o->incarnation;
    struct vmca_action *a = &o->v[o->n];
    int rc = vmca_encode(env, o->max_frame, &a->frame, &a->len);
    if (rc != VMCA_OK)
        return rc;
    o->seq++;
    a->to = to;
    a->link = link;
    a->body = (int)env->body_case;
    o->n++;
    return VMCA_OK;
}

struct vmca_action *vmca_outbox_take(struct vmca_outbox *o, size_t *n)
{
    struct vmca_action *v = o->v;
    *n = o->n;
    o->v = NULL;
    o->n = o->cap = 0;
    return v;
}

void vmca_actions_free(struct vmca_action *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].frame);
    free(v);
}
