/* Unit tests of proto/codec.c: a round trip of every body type with every
 * field set, framing (big-endian prefix, back-to-back frames), every class of
 * malformed frame with its error code and text, and a deterministic mutation
 * fuzz loop (meant to run clean under -fsanitize=address,undefined). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "err.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define T_FROM 0xFFFFFFF0u
#define T_SEQ UINT64_C(0x8877665544332211)
#define T_INC UINT64_C(0xFEDCBA9876543210)

/* An envelope with every header field set to a non-default value. */
static Vmca__Envelope mkenv(void)
{
    Vmca__Envelope env = VMCA__ENVELOPE__INIT;

    env.version = VMCA_PROTO_VERSION;
    env.from = T_FROM;
    env.seq = T_SEQ;
    env.incarnation = T_INC;
    return env;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A frame with the given 32-bit prefix and body, in an exact-size heap buffer
 * (so the sanitizer sees any read past its end). */
static uint8_t *mkframe(uint32_t prefix, const uint8_t *body, size_t body_len,
                        size_t *len)
{
    uint8_t *buf = malloc(VMCA_FRAME_HDR + body_len);

    assert_non_null(buf);
    buf[0] = (uint8_t)(prefix >> 24);
    buf[1] = (uint8_t)(prefix >> 16);
    buf[2] = (uint8_t)(prefix >> 8);
    buf[3] = (uint8_t)prefix;
    if (body_len > 0)
        memcpy(buf + VMCA_FRAME_HDR, body, body_len);
    *len = VMCA_FRAME_HDR + body_len;
    return buf;
}

/* Encodes, checks the prefix (big-endian, == len - 4), decodes the frame
 * from an exact-size buffer and checks the envelope header fields. */
static Vmca__Envelope *roundtrip(const Vmca__Envelope *in)
{
    uint8_t *buf = NULL;
    size_t len = 0, consumed = 0, n;
    Vmca__Envelope *out = NULL;
    char err[128] = "";

    assert_int_equal(vmca_encode(in, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_OK);
    assert_non_null(buf);
    assert_true(len > VMCA_FRAME_HDR);
    n = len - VMCA_FRAME_HDR;
    assert_int_equal(buf[0], (n >> 24) & 0xff);
    assert_int_equal(buf[1], (n >> 16) & 0xff);
    assert_int_equal(buf[2], (n >> 8) & 0xff);
    assert_int_equal(buf[3], n & 0xff);
    assert_int_equal(be32(buf), n);
    assert_int_equal(n, vmca__envelope__get_packed_size(in));

    assert_int_equal(vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME, &out,
                                       &consumed, err, sizeof(err)),
                     VMCA_OK);
    assert_non_null(out);
    assert_int_equal(consumed, len);
    assert_int_equal(out->version, VMCA_PROTO_VERSION);
    assert_int_equal(out->from, T_FROM);
    assert_int_equal(out->seq, T_SEQ);
    assert_int_equal(out->incarnation, T_INC);
    assert_int_equal(out->body_case, in->body_case);
    assert_non_null(out->hello); /* any member: they share the union */
    free(buf);
    return out;
}

static void check_block(const Vmca__Block *got, const Vmca__Block *want)
{
    assert_non_null(got);
    assert_int_equal(got->gfn, want->gfn);
    assert_int_equal(got->order, want->order);
}

static void check_home_pages(const Vmca__HomePages *got,
                             const Vmca__HomePages *want)
{
    assert_non_null(got);
    assert_int_equal(got->node, want->node);
    assert_int_equal(got->pages, want->pages);
}

/* ---- round trips, one per body type ---- */

static void test_rt_hello(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Hello m = VMCA__HELLO__INIT;

    m.node = 4242;
    m.incarnation = UINT64_C(0x8000000000000001);
    m.role = VMCA__ROLE__ROLE_MASTER;
    env.body_case = VMCA__ENVELOPE__BODY_HELLO;
    env.hello = &m;
    out = roundtrip(&env);
    assert_int_equal(out->hello->node, 4242);
    assert_int_equal(out->hello->incarnation, UINT64_C(0x8000000000000001));
    assert_int_equal(out->hello->role, VMCA__ROLE__ROLE_MASTER);
    vmca_envelope_free(out);

    m.role = VMCA__ROLE__ROLE_SLAVE;
    out = roundtrip(&env);
    assert_int_equal(out->hello->role, VMCA__ROLE__ROLE_SLAVE);
    vmca_envelope_free(out);
}

static void test_rt_register(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Register m = VMCA__REGISTER__INIT;
    uint32_t loc[] = {3, 1, 4, UINT32_MAX, 5};

    m.node = 17;
    m.local_pages = UINT64_C(0x123456789AB);
    m.n_location = ARRAY_LEN(loc);
    m.location = loc;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &m;
    out = roundtrip(&env);
    assert_int_equal(out->register_node->node, 17);
    assert_int_equal(out->register_node->local_pages, UINT64_C(0x123456789AB));
    assert_int_equal(out->register_node->n_location, ARRAY_LEN(loc));
    assert_memory_equal(out->register_node->location, loc, sizeof(loc));
    vmca_envelope_free(out);
}

static void test_rt_statistics(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Statistics m = VMCA__STATISTICS__INIT;
    Vmca__HomePages owned[3] = {VMCA__HOME_PAGES__INIT, VMCA__HOME_PAGES__INIT,
                                VMCA__HOME_PAGES__INIT};
    Vmca__HomePages lent[2] = {VMCA__HOME_PAGES__INIT, VMCA__HOME_PAGES__INIT};
    Vmca__VmStats vms[2] = {VMCA__VM_STATS__INIT, VMCA__VM_STATS__INIT};
    Vmca__HomePages *owned_p[3], *lent_p[2];
    Vmca__VmStats *vms_p[2];
    uint32_t enabled[] = {1, 2, 7, UINT32_MAX};
    size_t i;

    for (i = 0; i < ARRAY_LEN(owned); i++) {
        owned[i].node = (uint32_t)(i + 1);
        owned[i].pages = UINT64_C(1000) * (i + 1) + UINT64_C(0x100000000);
        owned_p[i] = &owned[i];
    }
    for (i = 0; i < ARRAY_LEN(lent); i++) {
        lent[i].node = (uint32_t)(10 + i);
        lent[i].pages = 77 + i;
        lent_p[i] = &lent[i];
    }
    for (i = 0; i < ARRAY_LEN(vms); i++) {
        vms[i].vm = (uint32_t)(100 + i);
        vms[i].tmem_used = 11 + i;
        vms[i].mm_target = 22 + i;
        vms[i].puts_total = UINT64_MAX - i;
        vms[i].puts_succ = 44 + i;
        vms[i].gets = 55 + i;
        vms[i].flushes = 66 + i;
        vms_p[i] = &vms[i];
    }
    m.total_pages = UINT64_C(1) << 40;
    m.free_pages = 123456;
    m.n_owned = ARRAY_LEN(owned_p);
    m.owned = owned_p;
    m.n_lent = ARRAY_LEN(lent_p);
    m.lent = lent_p;
    m.n_vms = ARRAY_LEN(vms_p);
    m.vms = vms_p;
    m.n_enabled = ARRAY_LEN(enabled);
    m.enabled = enabled;
    m.pending_transfers = 9;
    m.state = VMCA__NODE_STATE__NODE_LEAVING;
    m.period = UINT64_MAX;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &m;

    out = roundtrip(&env);
    {
        const Vmca__Statistics *s = out->statistics;

        assert_int_equal(s->total_pages, UINT64_C(1) << 40);
        assert_int_equal(s->free_pages, 123456);
        assert_int_equal(s->n_owned, ARRAY_LEN(owned));
        for (i = 0; i < ARRAY_LEN(owned); i++)
            check_home_pages(s->owned[i], &owned[i]);
        assert_int_equal(s->n_lent, ARRAY_LEN(lent));
        for (i = 0; i < ARRAY_LEN(lent); i++)
            check_home_pages(s->lent[i], &lent[i]);
        assert_int_equal(s->n_vms, ARRAY_LEN(vms));
        for (i = 0; i < ARRAY_LEN(vms); i++) {
            assert_non_null(s->vms[i]);
            assert_int_equal(s->vms[i]->vm, vms[i].vm);
            assert_int_equal(s->vms[i]->tmem_used, vms[i].tmem_used);
            assert_int_equal(s->vms[i]->mm_target, vms[i].mm_target);
            assert_int_equal(s->vms[i]->puts_total, vms[i].puts_total);
            assert_int_equal(s->vms[i]->puts_succ, vms[i].puts_succ);
            assert_int_equal(s->vms[i]->gets, vms[i].gets);
            assert_int_equal(s->vms[i]->flushes, vms[i].flushes);
        }
        assert_int_equal(s->n_enabled, ARRAY_LEN(enabled));
        assert_memory_equal(s->enabled, enabled, sizeof(enabled));
        assert_int_equal(s->pending_transfers, 9);
        assert_int_equal(s->state, VMCA__NODE_STATE__NODE_LEAVING);
        assert_int_equal(s->period, UINT64_MAX);
    }
    vmca_envelope_free(out);
}

static void test_rt_grant_any(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__GrantAny m = VMCA__GRANT_ANY__INIT;

    m.node = 5;
    m.pages = UINT64_C(1) << 40;
    m.req = 77;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ANY;
    env.grant_any = &m;
    out = roundtrip(&env);
    assert_int_equal(out->grant_any->node, 5);
    assert_int_equal(out->grant_any->pages, UINT64_C(1) << 40);
    assert_int_equal(out->grant_any->req, 77);
    vmca_envelope_free(out);
}

static void test_rt_grant_fwd(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__GrantFwd m = VMCA__GRANT_FWD__INIT;

    m.donor = 3;
    m.requester = 8;
    m.pages = 999999;
    m.req = UINT64_MAX - 1;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_FWD;
    env.grant_fwd = &m;
    out = roundtrip(&env);
    assert_int_equal(out->grant_fwd->donor, 3);
    assert_int_equal(out->grant_fwd->requester, 8);
    assert_int_equal(out->grant_fwd->pages, 999999);
    assert_int_equal(out->grant_fwd->req, UINT64_MAX - 1);
    vmca_envelope_free(out);
}

static void test_rt_grant(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Grant m = VMCA__GRANT__INIT;
    Vmca__Block b[3] = {VMCA__BLOCK__INIT, VMCA__BLOCK__INIT, VMCA__BLOCK__INIT};
    Vmca__Block *bp[3];
    size_t i;

    for (i = 0; i < ARRAY_LEN(b); i++) {
        b[i].gfn = (UINT64_C(3) << 48) | (UINT64_C(0x1000) << i);
        b[i].order = (uint32_t)(i + 1);
        bp[i] = &b[i];
    }
    m.xfer = UINT64_C(0xABCDEF0123);
    m.n_blocks = ARRAY_LEN(bp);
    m.blocks = bp;
    m.req = 55;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = &m;
    out = roundtrip(&env);
    assert_int_equal(out->grant->xfer, UINT64_C(0xABCDEF0123));
    assert_int_equal(out->grant->req, 55);
    assert_int_equal(out->grant->n_blocks, ARRAY_LEN(b));
    for (i = 0; i < ARRAY_LEN(b); i++)
        check_block(out->grant->blocks[i], &b[i]);
    vmca_envelope_free(out);
}

static void test_rt_grant_ack(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__GrantAck m = VMCA__GRANT_ACK__INIT;
    Vmca__Block b[2] = {VMCA__BLOCK__INIT, VMCA__BLOCK__INIT};
    Vmca__Block *bp[2];
    size_t i;

    for (i = 0; i < ARRAY_LEN(b); i++) {
        b[i].gfn = UINT64_MAX - 4096 * i;
        b[i].order = (uint32_t)(9 + i);
        bp[i] = &b[i];
    }
    m.xfer = 31337;
    m.accepted = 4096;
    m.n_bounced = ARRAY_LEN(bp);
    m.bounced = bp;
    env.body_case = VMCA__ENVELOPE__BODY_GRANT_ACK;
    env.grant_ack = &m;
    out = roundtrip(&env);
    assert_int_equal(out->grant_ack->xfer, 31337);
    assert_int_equal(out->grant_ack->accepted, 4096);
    assert_int_equal(out->grant_ack->n_bounced, ARRAY_LEN(b));
    for (i = 0; i < ARRAY_LEN(b); i++)
        check_block(out->grant_ack->bounced[i], &b[i]);
    vmca_envelope_free(out);
}

static void test_rt_force_return(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__ForceReturn m = VMCA__FORCE_RETURN__INIT;

    m.node = 12;
    env.body_case = VMCA__ENVELOPE__BODY_FORCE_RETURN;
    env.force_return = &m;
    out = roundtrip(&env);
    assert_int_equal(out->force_return->node, 12);
    vmca_envelope_free(out);
}

static void test_rt_mem_limit(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__MemLimit m = VMCA__MEM_LIMIT__INIT;

    m.pages = 1234567;
    env.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    env.mem_limit = &m;
    out = roundtrip(&env);
    assert_int_equal(out->mem_limit->pages, 1234567);
    vmca_envelope_free(out);
}

static void test_rt_leave_req(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__LeaveReq m = VMCA__LEAVE_REQ__INIT;

    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_REQ;
    env.leave_req = &m;
    out = roundtrip(&env);
    assert_non_null(out->leave_req);
    vmca_envelope_free(out);
}

static void test_rt_leave_notify(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__LeaveNotify m = VMCA__LEAVE_NOTIFY__INIT;

    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_NOTIFY;
    env.leave_notify = &m;
    out = roundtrip(&env);
    assert_non_null(out->leave_notify);
    vmca_envelope_free(out);
}

static void test_rt_enable_node(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__EnableNode m = VMCA__ENABLE_NODE__INIT;
    uint32_t nodes[] = {2, 4, 6, UINT32_MAX};

    m.n_nodes = ARRAY_LEN(nodes);
    m.nodes = nodes;
    m.enable = 1;
    env.body_case = VMCA__ENVELOPE__BODY_ENABLE_NODE;
    env.enable_node = &m;
    out = roundtrip(&env);
    assert_int_equal(out->enable_node->n_nodes, ARRAY_LEN(nodes));
    assert_memory_equal(out->enable_node->nodes, nodes, sizeof(nodes));
    assert_true(out->enable_node->enable);
    vmca_envelope_free(out);
}

static void test_rt_invalidate(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Invalidate m = VMCA__INVALIDATE__INIT;

    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE;
    env.invalidate = &m;
    out = roundtrip(&env);
    assert_non_null(out->invalidate);
    vmca_envelope_free(out);
}

static void test_rt_invalidate_node(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__InvalidateNode m = VMCA__INVALIDATE_NODE__INIT;

    m.node = 31;
    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NODE;
    env.invalidate_node = &m;
    out = roundtrip(&env);
    assert_int_equal(out->invalidate_node->node, 31);
    vmca_envelope_free(out);
}

static void test_rt_invalidate_notify(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__InvalidateNotify m = VMCA__INVALIDATE_NOTIFY__INIT;

    env.body_case = VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY;
    env.invalidate_notify = &m;
    out = roundtrip(&env);
    assert_non_null(out->invalidate_notify);
    vmca_envelope_free(out);
}

static void test_rt_census(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__Census m = VMCA__CENSUS__INIT;

    m.home = 6;
    m.round = UINT64_C(1) << 33;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS;
    env.census = &m;
    out = roundtrip(&env);
    assert_int_equal(out->census->home, 6);
    assert_int_equal(out->census->round, UINT64_C(1) << 33);
    vmca_envelope_free(out);
}

static void test_rt_census_reply(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__CensusReply m = VMCA__CENSUS_REPLY__INIT;
    Vmca__Block b[3] = {VMCA__BLOCK__INIT, VMCA__BLOCK__INIT, VMCA__BLOCK__INIT};
    Vmca__Block *bp[3];
    size_t i;

    for (i = 0; i < ARRAY_LEN(b); i++) {
        b[i].gfn = (UINT64_C(6) << 48) + 512 * (i + 1);
        b[i].order = (uint32_t)(i * 3 + 1);
        bp[i] = &b[i];
    }
    m.home = 6;
    m.round = 42;
    m.n_blocks = ARRAY_LEN(bp);
    m.blocks = bp;
    env.body_case = VMCA__ENVELOPE__BODY_CENSUS_REPLY;
    env.census_reply = &m;
    out = roundtrip(&env);
    assert_int_equal(out->census_reply->home, 6);
    assert_int_equal(out->census_reply->round, 42);
    assert_int_equal(out->census_reply->n_blocks, ARRAY_LEN(b));
    for (i = 0; i < ARRAY_LEN(b); i++)
        check_block(out->census_reply->blocks[i], &b[i]);
    vmca_envelope_free(out);
}

/* The operator's commands (vmcactl leave, join, mem-set). */
static void test_operator_messages(void **state)
{
    Vmca__Envelope env = mkenv(), *out;
    Vmca__LeaveAsk la = VMCA__LEAVE_ASK__INIT;
    Vmca__JoinAsk ja = VMCA__JOIN_ASK__INIT;
    Vmca__VmCap c[2] = {VMCA__VM_CAP__INIT, VMCA__VM_CAP__INIT}, *cp[2] = {&c[0], &c[1]};
    Vmca__VmLimits vl = VMCA__VM_LIMITS__INIT;

    env.body_case = VMCA__ENVELOPE__BODY_LEAVE_ASK;
    env.leave_ask = &la;
    out = roundtrip(&env);
    vmca_envelope_free(out);
    env.body_case = VMCA__ENVELOPE__BODY_JOIN_ASK;
    env.join_ask = &ja;
    out = roundtrip(&env);
    vmca_envelope_free(out);
    c[0].vm = 3;
    c[0].pages = 100;
    c[1].vm = UINT32_MAX;
    c[1].pages = UINT64_MAX;
    vl.caps = cp;
    vl.n_caps = 2;
    env.body_case = VMCA__ENVELOPE__BODY_VM_LIMITS;
    env.vm_limits = &vl;
    out = roundtrip(&env);
    assert_int_equal(out->vm_limits->n_caps, 2);
    assert_int_equal(out->vm_limits->caps[0]->vm, 3);
    assert_int_equal(out->vm_limits->caps[0]->pages, 100);
    assert_int_equal(out->vm_limits->caps[1]->vm, UINT32_MAX);
    assert_true(out->vm_limits->caps[1]->pages == UINT64_MAX);
    vmca_envelope_free(out);
    assert_string_equal(vmca_body_name(VMCA__ENVELOPE__BODY_VM_LIMITS), "vm-limits");
    (void)state;
}

/* ---- framing ---- */

/* A body longer than 255 bytes, so a little-endian prefix would differ. */
static void test_prefix_big_endian(void **state)
{
    Vmca__Envelope env = mkenv();
    Vmca__Register m = VMCA__REGISTER__INIT;
    uint32_t loc[300];
    uint8_t *buf;
    size_t len, i, n;

    for (i = 0; i < ARRAY_LEN(loc); i++)
        loc[i] = UINT32_MAX - (uint32_t)i;
    m.node = 1;
    m.n_location = ARRAY_LEN(loc);
    m.location = loc;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &m;
    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_OK);
    n = len - VMCA_FRAME_HDR;
    assert_true(n > 1500 && n < 65536);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], n >> 8);
    assert_int_equal(buf[3], n & 0xff);
    assert_int_not_equal(buf[2], 0);
    free(buf);
}

static Vmca__Envelope hello_env(Vmca__Hello *h, uint32_t node)
{
    Vmca__Envelope env = mkenv();

    vmca__hello__init(h);
    h->node = node;
    h->incarnation = 99;
    h->role = VMCA__ROLE__ROLE_SLAVE;
    env.body_case = VMCA__ENVELOPE__BODY_HELLO;
    env.hello = h;
    return env;
}

static void test_back_to_back(void **state)
{
    Vmca__Hello h1;
    Vmca__Envelope e1 = hello_env(&h1, 1), e2 = mkenv(), *out = NULL;
    Vmca__MemLimit ml = VMCA__MEM_LIMIT__INIT;
    uint8_t *f1, *f2, *buf;
    size_t l1, l2, len, consumed, off;
    char err[128];

    ml.pages = 5000;
    e2.body_case = VMCA__ENVELOPE__BODY_MEM_LIMIT;
    e2.mem_limit = &ml;
    assert_int_equal(vmca_encode(&e1, VMCA_DEFAULT_MAX_FRAME, &f1, &l1), 0);
    assert_int_equal(vmca_encode(&e2, VMCA_DEFAULT_MAX_FRAME, &f2, &l2), 0);
    /* frame 1, frame 2, then the first 3 bytes of frame 1 again */
    len = l1 + l2 + 3;
    buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, f1, l1);
    memcpy(buf + l1, f2, l2);
    memcpy(buf + l1 + l2, f1, 3);

    off = 0;
    assert_int_equal(vmca_decode_frame(buf + off, len - off,
                                       VMCA_DEFAULT_MAX_FRAME, &out, &consumed,
                                       err, sizeof(err)),
                     VMCA_OK);
    assert_int_equal(consumed, l1);
    assert_int_equal(out->body_case, VMCA__ENVELOPE__BODY_HELLO);
    assert_int_equal(out->hello->node, 1);
    vmca_envelope_free(out);
    off += consumed;

    assert_int_equal(vmca_decode_frame(buf + off, len - off,
                                       VMCA_DEFAULT_MAX_FRAME, &out, &consumed,
                                       err, sizeof(err)),
                     VMCA_OK);
    assert_int_equal(consumed, l2);
    assert_int_equal(out->body_case, VMCA__ENVELOPE__BODY_MEM_LIMIT);
    assert_int_equal(out->mem_limit->pages, 5000);
    vmca_envelope_free(out);
    off += consumed;

    assert_int_equal(len - off, 3);
    assert_int_equal(vmca_decode_frame(buf + off, len - off,
                                       VMCA_DEFAULT_MAX_FRAME, &out, &consumed,
                                       err, sizeof(err)),
                     VMCA_ERR_AGAIN);
    assert_null(out);
    assert_int_equal(consumed, 0);
    free(buf);
    free(f1);
    free(f2);
}

/* ---- encode refusals ---- */

static void test_encode_no_body(void **state)
{
    Vmca__Envelope env = mkenv();
    uint8_t *buf = (uint8_t *)&env;
    size_t len = 77;

    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_ERR_INVAL);
    assert_null(buf);
    assert_int_equal(len, 0);

    /* a body case without its message would go out body-less */
    env.body_case = VMCA__ENVELOPE__BODY_GRANT;
    env.grant = NULL;
    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_ERR_INVAL);
    assert_null(buf);

    assert_int_equal(vmca_encode(NULL, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_ERR_INVAL);
}

static void test_encode_too_big(void **state)
{
    Vmca__Envelope env = mkenv();
    Vmca__Register m = VMCA__REGISTER__INIT;
    uint32_t *loc;
    size_t n_loc = 300000, i, body, len;
    uint8_t *buf = NULL;

    /* 300000 five-byte varints: a body of ~1.5 MB, over the default max */
    loc = malloc(n_loc * sizeof(*loc));
    assert_non_null(loc);
    for (i = 0; i < n_loc; i++)
        loc[i] = UINT32_MAX;
    m.n_location = n_loc;
    m.location = loc;
    env.body_case = VMCA__ENVELOPE__BODY_REGISTER_NODE;
    env.register_node = &m;
    body = vmca__envelope__get_packed_size(&env);
    assert_true(body > VMCA_DEFAULT_MAX_FRAME);
    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                     VMCA_ERR_TOOBIG);
    assert_null(buf);

    /* the limit is inclusive: exactly max_frame is fine, one less is not */
    assert_int_equal(vmca_encode(&env, body - 1, &buf, &len), VMCA_ERR_TOOBIG);
    assert_null(buf);
    assert_int_equal(vmca_encode(&env, body, &buf, &len), VMCA_OK);
    assert_int_equal(len, body + VMCA_FRAME_HDR);
    assert_int_equal(be32(buf), body);
    free(buf);
    free(loc);
}

/* ---- malformed frames ---- */

static void test_oversize_prefix(void **state)
{
    const uint8_t hdr[4] = {0x00, 0x1e, 0x84, 0x80}; /* 2000000 */
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    char err[128];
    size_t body_len = 1, consumed = 1;
    Vmca__Envelope *out = (Vmca__Envelope *)&body_len;
    uint8_t *buf;
    size_t len;

    assert_int_equal(vmca_frame_len(hdr, VMCA_DEFAULT_MAX_FRAME, &body_len,
                                    err, sizeof(err)),
                     VMCA_ERR_TOOBIG);
    assert_string_equal(err, "frame of 2000000 bytes exceeds maximum 1048576");
    assert_int_equal(vmca_frame_len(huge, VMCA_DEFAULT_MAX_FRAME, &body_len,
                                    err, sizeof(err)),
                     VMCA_ERR_TOOBIG);
    assert_string_equal(err,
                        "frame of 4294967295 bytes exceeds maximum 1048576");

    /* decode_frame checks the size before waiting for the body */
    assert_int_equal(vmca_decode_frame(hdr, sizeof(hdr), VMCA_DEFAULT_MAX_FRAME,
                                       &out, &consumed, err, sizeof(err)),
                     VMCA_ERR_TOOBIG);
    assert_null(out);
    assert_int_equal(consumed, 0);
    assert_string_equal(err, "frame of 2000000 bytes exceeds maximum 1048576");

    /* a small valid frame against a smaller maximum; the limit is inclusive */
    {
        Vmca__Hello h;
        Vmca__Envelope env = hello_env(&h, 3);
        char want[128];

        assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                         0);
        assert_int_equal(vmca_decode_frame(buf, len, len - VMCA_FRAME_HDR - 1,
                                           &out, &consumed, err, sizeof(err)),
                         VMCA_ERR_TOOBIG);
        snprintf(want, sizeof(want), "frame of %zu bytes exceeds maximum %zu",
                 len - VMCA_FRAME_HDR, len - VMCA_FRAME_HDR - 1);
        assert_string_equal(err, want);
        assert_null(out);
        assert_int_equal(vmca_decode_frame(buf, len, len - VMCA_FRAME_HDR,
                                           &out, &consumed, err, sizeof(err)),
                         VMCA_OK);
        assert_int_equal(consumed, len);
        vmca_envelope_free(out);
        free(buf);
    }
}

static void test_zero_length(void **state)
{
    const uint8_t hdr[4] = {0, 0, 0, 0};
    char err[128];
    size_t body_len = 5, consumed = 5;
    Vmca__Envelope *out = (Vmca__Envelope *)&body_len;

    assert_int_equal(vmca_frame_len(hdr, VMCA_DEFAULT_MAX_FRAME, &body_len,
                                    err, sizeof(err)),
                     VMCA_ERR_PROTO);
    assert_string_equal(err, "empty frame");
    assert_int_equal(vmca_decode_frame(hdr, sizeof(hdr), VMCA_DEFAULT_MAX_FRAME,
                                       &out, &consumed, err, sizeof(err)),
                     VMCA_ERR_PROTO);
    assert_string_equal(err, "empty frame");
    assert_null(out);
    assert_int_equal(consumed, 0);
}

static void test_truncated_and_short(void **state)
{
    Vmca__Hello h;
    Vmca__Envelope env = hello_env(&h, 8), *out;
    uint8_t *frame, *buf;
    size_t len, cut, consumed;
    char err[128], want[128];

    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &frame, &len),
                     0);
    for (cut = 0; cut < len; cut++) {
        int rc;

        /* an exact-size copy so any over-read is caught */
        buf = malloc(cut > 0 ? cut : 1);
        assert_non_null(buf);
        memcpy(buf, frame, cut);
        out = (Vmca__Envelope *)&len;
        consumed = 99;
        rc = vmca_decode_frame(buf, cut, VMCA_DEFAULT_MAX_FRAME, &out,
                               &consumed, err, sizeof(err));
        if (cut < VMCA_FRAME_HDR) {
            assert_int_equal(rc, VMCA_ERR_AGAIN);
            snprintf(want, sizeof(want),
                     "incomplete frame header (%zu of 4 bytes)", cut);
        } else {
            assert_int_equal(rc, VMCA_ERR_TRUNCATED);
            snprintf(want, sizeof(want),
                     "truncated frame (%zu of %zu body bytes)",
                     cut - VMCA_FRAME_HDR, len - VMCA_FRAME_HDR);
        }
        assert_string_equal(err, want);
        assert_null(out);
        assert_int_equal(consumed, 0);
        free(buf);
    }
    /* NULL buffer of length 0 is just "not enough yet" */
    assert_int_equal(vmca_decode_frame(NULL, 0, VMCA_DEFAULT_MAX_FRAME, &out,
                                       &consumed, err, sizeof(err)),
                     VMCA_ERR_AGAIN);
    free(frame);
}

/* Each body is certainly not a valid protobuf encoding of an Envelope. */
static void test_garbage(void **state)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } cases[] = {
        /* field 1 with wire type 7 (no such wire type) */
        {"wire type 7", {0x0f, 0x01}, 2},
        /* version=1, then field 2 with wire type 6 */
        {"wire type 6", {0x08, 0x01, 0x16, 0x00}, 4},
        /* version=1, hello (field 10, length-delimited) claiming 16 bytes
         * of which 2 are present */
        {"length past end", {0x08, 0x01, 0x52, 0x10, 0x08, 0x01}, 6},
        /* unknown field 99, length-delimited, claiming 100 bytes */
        {"unknown field past end", {0x9a, 0x06, 0x64, 0x00}, 4},
        /* version varint whose continuation bit never ends */
        {"unterminated varint", {0x08, 0xff, 0xff}, 3},
        /* a varint of 11 bytes (max is 10) */
        {"overlong varint",
         {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01},
         12},
        /* a tag with no bytes after a continuation bit */
        {"cut tag", {0x08, 0x01, 0x80}, 3},
        /* version=1, a valid hello wrapper around a body with wire type 7 */
        {"bad nested body", {0x08, 0x01, 0x52, 0x02, 0x0f, 0x00}, 6},
        /* version=1, grant whose block claims more bytes than the grant */
        {"nested length past end",
         {0x08, 0x01, 0x7a, 0x04, 0x12, 0x09, 0x08, 0x01},
         8},
        /* all ones */
        {"0xff bytes", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        uint8_t *buf;
        size_t len, consumed;
        Vmca__Envelope *out = (Vmca__Envelope *)&len;
        char err[128], want[128];

        buf = mkframe((uint32_t)cases[i].len, cases[i].bytes, cases[i].len,
                      &len);
        print_message("garbage: %s\n", cases[i].what);
        assert_int_equal(vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME,
                                           &out, &consumed, err, sizeof(err)),
                         VMCA_ERR_PROTO);
        snprintf(want, sizeof(want), "malformed envelope (%zu bytes)",
                 cases[i].len);
        assert_string_equal(err, want);
        assert_null(out);
        /* the whole frame was there: a reader may skip it */
        assert_int_equal(consumed, len);

        out = (Vmca__Envelope *)&len;
        assert_int_equal(vmca_decode(buf + VMCA_FRAME_HDR, cases[i].len, &out,
                                     err, sizeof(err)),
                         VMCA_ERR_PROTO);
        assert_string_equal(err, want);
        assert_null(out);
        free(buf);
    }
}

static void check_version_rejected(uint32_t version)
{
    Vmca__Hello h;
    Vmca__Envelope env = hello_env(&h, 2), *out = (Vmca__Envelope *)&env;
    uint8_t *buf;
    size_t len, consumed;
    char err[128], want[128];

    env.version = version;
    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len), 0);
    assert_int_equal(vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME, &out,
                                       &consumed, err, sizeof(err)),
                     VMCA_ERR_VERSION);
    snprintf(want, sizeof(want), "unknown protocol version %lu (expected 1)",
             (unsigned long)version);
    assert_string_equal(err, want);
    assert_null(out);
    free(buf);
}

static void test_wrong_version(void **state)
{
    char err[128];
    Vmca__Envelope *out;
    /* hello with node=1, no version field at all */
    const uint8_t no_version[] = {0x52, 0x02, 0x08, 0x01};

    check_version_rejected(2);
    check_version_rejected(0);
    check_version_rejected(UINT32_MAX);
    assert_int_equal(vmca_decode(no_version, sizeof(no_version), &out, err,
                                 sizeof(err)),
                     VMCA_ERR_VERSION);
    assert_string_equal(err, "unknown protocol version 0 (expected 1)");
    assert_null(out);
}

static void expect_no_body(const uint8_t *body, size_t body_len)
{
    uint8_t *buf;
    size_t len, consumed;
    Vmca__Envelope *out = (Vmca__Envelope *)&len;
    char err[128];

    buf = mkframe((uint32_t)body_len, body, body_len, &len);
    assert_int_equal(vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME, &out,
                                       &consumed, err, sizeof(err)),
                     VMCA_ERR_PROTO);
    assert_string_equal(err, "no known message body");
    assert_null(out);
    free(buf);
}

static void test_no_body(void **state)
{
    Vmca__Envelope env = mkenv();
    uint8_t body[64];
    size_t n;

    /* a valid envelope, packed directly (vmca_encode refuses it) */
    n = vmca__envelope__get_packed_size(&env);
    assert_true(n <= sizeof(body));
    assert_int_equal(vmca__envelope__pack(&env, body), n);
    expect_no_body(body, n);

    /* version only */
    {
        const uint8_t v[] = {0x08, 0x01};

        expect_no_body(v, sizeof(v));
    }
}

static void test_unknown_body_field(void **state)
{
    /* version=1 and field 99 (tag (99 << 3) | 2 = 0x9a 0x06) holding what
     * would be a message body of a newer protocol revision */
    const uint8_t with_version[] = {0x08, 0x01, 0x9a, 0x06, 0x02, 0x08, 0x01};
    /* field 99 as a varint */
    const uint8_t varint99[] = {0x08, 0x01, 0x98, 0x06, 0x05};
    /* only field 99: no version either, and the version is checked first */
    const uint8_t only99[] = {0x9a, 0x06, 0x02, 0x08, 0x01};
    Vmca__Envelope *out;
    char err[128];

    expect_no_body(with_version, sizeof(with_version));
    expect_no_body(varint99, sizeof(varint99));
    assert_int_equal(vmca_decode(only99, sizeof(only99), &out, err,
                                 sizeof(err)),
                     VMCA_ERR_VERSION);
    assert_null(out);
}

/* Forward compatibility: unknown fields next to a known body, and inside it,
 * are ignored. */
static void test_unknown_extra_fields(void **state)
{
    Vmca__Hello h;
    Vmca__Envelope env = hello_env(&h, 21), *out;
    uint8_t *frame, *buf;
    size_t len, n, consumed;
    /* field 99 (bytes "ab") and field 50 (varint 7) */
    const uint8_t extra[] = {0x9a, 0x06, 0x02, 'a', 'b', 0x90, 0x03, 0x07};
    /* version=1, hello {node=21, field 15 varint 1}, field 7 fixed64 */
    const uint8_t nested[] = {0x08, 0x01, 0x52, 0x04, 0x08, 0x15, 0x78, 0x01,
                              0x39, 1, 2, 3, 4, 5, 6, 7, 8};
    char err[128];

    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &frame, &len),
                     0);
    n = len - VMCA_FRAME_HDR + sizeof(extra);
    buf = malloc(VMCA_FRAME_HDR + n);
    assert_non_null(buf);
    memcpy(buf, frame, len);
    memcpy(buf + len, extra, sizeof(extra));
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    assert_int_equal(vmca_decode_frame(buf, VMCA_FRAME_HDR + n,
                                       VMCA_DEFAULT_MAX_FRAME, &out, &consumed,
                                       err, sizeof(err)),
                     VMCA_OK);
    assert_int_equal(consumed, VMCA_FRAME_HDR + n);
    assert_int_equal(out->body_case, VMCA__ENVELOPE__BODY_HELLO);
    assert_int_equal(out->hello->node, 21);
    assert_int_equal(out->hello->incarnation, 99);
    assert_int_equal(out->hello->role, VMCA__ROLE__ROLE_SLAVE);
    assert_int_equal(out->from, T_FROM);
    assert_int_equal(out->seq, T_SEQ);
    vmca_envelope_free(out);
    free(buf);
    free(frame);

    buf = mkframe(sizeof(nested), nested, sizeof(nested), &len);
    assert_int_equal(vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME, &out,
                                       &consumed, err, sizeof(err)),
                     VMCA_OK);
    assert_int_equal(out->body_case, VMCA__ENVELOPE__BODY_HELLO);
    assert_int_equal(out->hello->node, 21);
    vmca_envelope_free(out);
    free(buf);
}

/* err may be NULL or short; the code is returned all the same. */
static void test_err_buffer(void **state)
{
    const uint8_t zero[4] = {0, 0, 0, 0};
    const uint8_t junk[] = {0x0f};
    size_t body_len;
    Vmca__Envelope *out;
    char small[6];

    assert_int_equal(vmca_frame_len(zero, 100, &body_len, NULL, 0),
                     VMCA_ERR_PROTO);
    assert_int_equal(vmca_frame_len(zero, 100, &body_len, small, 0),
                     VMCA_ERR_PROTO);
    assert_int_equal(vmca_frame_len(zero, 100, &body_len, small,
                                    sizeof(small)),
                     VMCA_ERR_PROTO);
    assert_string_equal(small, "empty");
    assert_int_equal(vmca_decode(junk, sizeof(junk), &out, NULL, 0),
                     VMCA_ERR_PROTO);
    assert_null(out);

    {
        const uint8_t ok[4] = {0, 0, 0x01, 0x00};

        assert_int_equal(vmca_frame_len(ok, 256, &body_len, NULL, 0), VMCA_OK);
        assert_int_equal(body_len, 256);
        assert_int_equal(vmca_frame_len(ok, 255, &body_len, NULL, 0),
                         VMCA_ERR_TOOBIG);
    }
    vmca_envelope_free(NULL);
}

static void test_body_names(void **state)
{
    static const struct {
        Vmca__Envelope__BodyCase c;
        const char *name;
    } names[] = {
        {VMCA__ENVELOPE__BODY__NOT_SET, "none"},
        {VMCA__ENVELOPE__BODY_HELLO, "hello"},
        {VMCA__ENVELOPE__BODY_REGISTER_NODE, "register"},
        {VMCA__ENVELOPE__BODY_STATISTICS, "statistics"},
        {VMCA__ENVELOPE__BODY_GRANT_ANY, "grant-any"},
        {VMCA__ENVELOPE__BODY_GRANT_FWD, "grant-fwd"},
        {VMCA__ENVELOPE__BODY_GRANT, "grant"},
        {VMCA__ENVELOPE__BODY_GRANT_ACK, "grant-ack"},
        {VMCA__ENVELOPE__BODY_FORCE_RETURN, "force-return"},
        {VMCA__ENVELOPE__BODY_MEM_LIMIT, "mem-limit"},
        {VMCA__ENVELOPE__BODY_LEAVE_REQ, "leave-req"},
        {VMCA__ENVELOPE__BODY_LEAVE_NOTIFY, "leave-notify"},
        {VMCA__ENVELOPE__BODY_ENABLE_NODE, "enable-node"},
        {VMCA__ENVELOPE__BODY_INVALIDATE, "invalidate"},
        {VMCA__ENVELOPE__BODY_INVALIDATE_NODE, "invalidate-node"},
        {VMCA__ENVELOPE__BODY_INVALIDATE_NOTIFY, "invalidate-notify"},
        {VMCA__ENVELOPE__BODY_CENSUS, "census"},
        {VMCA__ENVELOPE__BODY_CENSUS_REPLY, "census-reply"},
        {VMCA__ENVELOPE__BODY_LEAVE_ASK, "leave-ask"},
        {VMCA__ENVELOPE__BODY_JOIN_ASK, "join-ask"},
        {VMCA__ENVELOPE__BODY_VM_LIMITS, "vm-limits"},
        {(Vmca__Envelope__BodyCase)9, "unknown"},
        {(Vmca__Envelope__BodyCase)30, "unknown"},
        {(Vmca__Envelope__BodyCase)99, "unknown"},
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(names); i++)
        assert_string_equal(vmca_body_name(names[i].c), names[i].name);

    /* an out-of-range body case is refused by the encoder */
    {
        Vmca__Hello h;
        Vmca__Envelope env = hello_env(&h, 1);
        uint8_t *buf;
        size_t len;

        env.body_case = (Vmca__Envelope__BodyCase)99;
        assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, &buf, &len),
                         VMCA_ERR_INVAL);
        assert_null(buf);
    }
}

/* ---- fuzz ---- */

/* A Statistics frame: the richest body, nested and repeated fields. */
static void fuzz_seed(uint8_t **frame, size_t *len)
{
    Vmca__Envelope env = mkenv();
    Vmca__Statistics m = VMCA__STATISTICS__INIT;
    Vmca__HomePages hp[2] = {VMCA__HOME_PAGES__INIT, VMCA__HOME_PAGES__INIT};
    Vmca__HomePages *hpp[2] = {&hp[0], &hp[1]};
    Vmca__VmStats vs = VMCA__VM_STATS__INIT;
    Vmca__VmStats *vsp[1] = {&vs};
    uint32_t enabled[] = {1, 300, 70000};

    hp[0].node = 1;
    hp[0].pages = 100000;
    hp[1].node = 2;
    hp[1].pages = 5;
    vs.vm = 3;
    vs.tmem_used = 4;
    vs.mm_target = 5000;
    vs.puts_total = 6;
    vs.puts_succ = 7;
    vs.gets = 8;
    vs.flushes = 9;
    m.total_pages = 1 << 20;
    m.free_pages = 1 << 10;
    m.n_owned = 2;
    m.owned = hpp;
    m.n_lent = 1;
    m.lent = hpp;
    m.n_vms = 1;
    m.vms = vsp;
    m.n_enabled = ARRAY_LEN(enabled);
    m.enabled = enabled;
    m.pending_transfers = 2;
    m.state = VMCA__NODE_STATE__NODE_ACTIVE;
    m.period = 12345;
    env.body_case = VMCA__ENVELOPE__BODY_STATISTICS;
    env.statistics = &m;
    assert_int_equal(vmca_encode(&env, VMCA_DEFAULT_MAX_FRAME, frame, len), 0);
}

static void test_fuzz(void **state)
{
    uint8_t *seed, *buf, *re;
    size_t seed_len, len, cap, relen;
    unsigned int iter, ok = 0, errs = 0;

    fuzz_seed(&seed, &seed_len);
    cap = seed_len + 16;
    srand(20240611u);
    for (iter = 0; iter < 10000; iter++) {
        Vmca__Envelope *out = (Vmca__Envelope *)&len;
        size_t consumed = 12345, body_len;
        char err[128];
        unsigned int nmut = 1 + (unsigned int)rand() % 4, k;
        uint8_t *tmp;
        int rc;

        tmp = malloc(cap);
        assert_non_null(tmp);
        memcpy(tmp, seed, seed_len);
        len = seed_len;
        for (k = 0; k < nmut; k++) {
            size_t pos = len > 0 ? (size_t)rand() % len : 0;

            switch (rand() % 7) {
            case 0: /* flip a bit */
                if (len > 0)
                    tmp[pos] ^= (uint8_t)(1u << (rand() % 8));
                break;
            case 1: /* random byte */
                if (len > 0)
                    tmp[pos] = (uint8_t)rand();
                break;
            case 2: /* cut the tail */
                len = pos;
                break;
            case 3: /* drop a byte */
                if (len > 0) {
                    memmove(tmp + pos, tmp + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            case 4: /* insert a byte */
                if (len < cap) {
                    memmove(tmp + pos + 1, tmp + pos, len - pos);
                    tmp[pos] = (uint8_t)rand();
                    len++;
                }
                break;
            case 5: /* a body byte set to an edge value */
                if (len > VMCA_FRAME_HDR) {
                    static const uint8_t edge[] = {0x00, 0x7f, 0x80, 0xff,
                                                   0x07, 0x0f, 0x52, 0x9a};
                    pos = VMCA_FRAME_HDR +
                          (size_t)rand() % (len - VMCA_FRAME_HDR);
                    tmp[pos] = edge[rand() % ARRAY_LEN(edge)];
                }
                break;
            default: /* keep the prefix consistent with the new length */
                if (len >= VMCA_FRAME_HDR) {
                    size_t n = len - VMCA_FRAME_HDR;

                    tmp[0] = (uint8_t)(n >> 24);
                    tmp[1] = (uint8_t)(n >> 16);
                    tmp[2] = (uint8_t)(n >> 8);
                    tmp[3] = (uint8_t)n;
                }
                break;
            }
        }
        /* exact-size copy: the sanitizer flags any read past the end */
        buf = malloc(len > 0 ? len : 1);
        assert_non_null(buf);
        memcpy(buf, tmp, len);
        free(tmp);

        rc = vmca_decode_frame(buf, len, VMCA_DEFAULT_MAX_FRAME, &out,
                               &consumed, err, sizeof(err));
        if (rc == VMCA_OK) {
            ok++;
            assert_non_null(out);
            assert_true(consumed > VMCA_FRAME_HDR && consumed <= len);
            assert_int_equal(out->version, VMCA_PROTO_VERSION);
            assert_string_not_equal(vmca_body_name(out->body_case), "none");
            assert_string_not_equal(vmca_body_name(out->body_case), "unknown");
            /* whatever decoded must encode again and decode the same */
            assert_int_equal(vmca_encode(out, VMCA_DEFAULT_MAX_FRAME, &re,
                                         &relen),
                             VMCA_OK);
            vmca_envelope_free(out);
            assert_int_equal(vmca_decode_frame(re, relen,
                                               VMCA_DEFAULT_MAX_FRAME, &out,
                                               &consumed, err, sizeof(err)),
                             VMCA_OK);
            assert_int_equal(consumed, relen);
            vmca_envelope_free(out);
            free(re);
        } else {
            errs++;
            assert_null(out);
            assert_true(rc == VMCA_ERR_AGAIN || rc == VMCA_ERR_TRUNCATED ||
                        rc == VMCA_ERR_TOOBIG || rc == VMCA_ERR_PROTO ||
                        rc == VMCA_ERR_VERSION);
            assert_true(strlen(err) > 0);
            assert_true(consumed == 0 ||
                        ((rc == VMCA_ERR_PROTO || rc == VMCA_ERR_VERSION) &&
                         consumed <= len));
        }

        /* the body alone, whatever the prefix says */
        if (len > VMCA_FRAME_HDR) {
            body_len = len - VMCA_FRAME_HDR;
            rc = vmca_decode(buf + VMCA_FRAME_HDR, body_len, &out, err,
                             sizeof(err));
            if (rc == VMCA_OK) {
                assert_non_null(out);
                vmca_envelope_free(out);
            } else {
                assert_null(out);
                assert_true(rc == VMCA_ERR_PROTO || rc == VMCA_ERR_VERSION);
            }
        }
        free(buf);
    }
    print_message("fuzz: %u decoded, %u rejected\n", ok, errs);
    /* the mutations must exercise both outcomes */
    assert_true(ok > 0);
    assert_true(errs > 0);
    free(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rt_hello),
        cmocka_unit_test(test_rt_register),
        cmocka_unit_test(test_rt_statistics),
        cmocka_unit_test(test_rt_grant_any),
        cmocka_unit_test(test_rt_grant_fwd),
        cmocka_unit_test(test_rt_grant),
        cmocka_unit_test(test_rt_grant_ack),
        cmocka_unit_test(test_rt_force_return),
        cmocka_unit_test(test_rt_mem_limit),
        cmocka_unit_test(test_rt_leave_req),
        cmocka_unit_test(test_rt_leave_notify),
        cmocka_unit_test(test_rt_enable_node),
        cmocka_unit_test(test_rt_invalidate),
        cmocka_unit_test(test_rt_invalidate_node),
        cmocka_unit_test(test_rt_invalidate_notify),
        cmocka_unit_test(test_rt_census),
        cmocka_unit_test(test_rt_census_reply),
        cmocka_unit_test(test_operator_messages),
        cmocka_unit_test(test_prefix_big_endian),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_encode_no_body),
        cmocka_unit_test(test_encode_too_big),
        cmocka_unit_test(test_oversize_prefix),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_truncated_and_short),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_no_body),
        cmocka_unit_test(test_unknown_body_field),
        cmocka_unit_test(test_unknown_extra_fields),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_body_names),
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
