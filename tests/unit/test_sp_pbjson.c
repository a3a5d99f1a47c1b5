/*
 * test_sp_pbjson.c - unit tests of the reflective protobuf-to-JSON printer.
 *
 * The test message "Everything" is described by a hand-written descriptor
 * (protoc-c layout) so that every field type, label and a oneof can be
 * exercised without a test .proto in the build; the generated Samspil types
 * are checked too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "samspil/v1/broker.pb-c.h"
#include "samspil/v1/registration.pb-c.h"
#include "sp_pbjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ test types */

static const ProtobufCEnumValue s_colour_values[] = {
    {"COLOUR_UNSPECIFIED", "TEST__COLOUR__COLOUR_UNSPECIFIED", 0},
    {"COLOUR_DARK_RED", "TEST__COLOUR__COLOUR_DARK_RED", 1},
    {"COLOUR_BLUE", "TEST__COLOUR__COLOUR_BLUE", 2},
};
static const ProtobufCEnumValueIndex s_colour_by_name[] = {
    {"COLOUR_BLUE", 2}, {"COLOUR_DARK_RED", 1}, {"COLOUR_UNSPECIFIED", 0}};
static const ProtobufCIntRange s_colour_ranges[] = {{0, 0}, {0, 3}};
static const ProtobufCEnumDescriptor s_colour_desc = {PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC,
                                                      "test.Colour",
                                                      "Colour",
                                                      "Test__Colour",
                                                      "test",
                                                      3,
                                                      s_colour_values,
                                                      3,
                                                      s_colour_by_name,
                                                      1,
                                                      s_colour_ranges,
                                                      NULL,
                                                      NULL,
                                                      NULL,
                                                      NULL};

typedef struct {
    ProtobufCMessage base;
    int32_t n;
    char *s;
} inner_t;

#define FIELD(name_, id_, label_, type_, q_, off_, desc_, flags_)                                  \
    {                                                                                              \
        name_, id_, label_, type_, q_, off_, desc_, NULL, flags_, 0, NULL, NULL                    \
    }

static const ProtobufCFieldDescriptor s_inner_fields[] = {
    FIELD("n", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0, offsetof(inner_t, n), NULL, 0),
    FIELD("s", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(inner_t, s), NULL, 0),
};
static const ProtobufCMessageDescriptor s_inner_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                        "test.Inner",
                                                        "Inner",
                                                        "Test__Inner",
                                                        "test",
                                                        sizeof(inner_t),
                                                        2,
                                                        s_inner_fields,
                                                        NULL,
                                                        0,
                                                        NULL,
                                                        NULL,
                                                        NULL,
                                                        NULL,
                                                        NULL};

typedef struct {
    ProtobufCMessage base;
    int32_t f_int32, f_sint32, f_sfixed32;
    uint32_t f_uint32, f_fixed32;
    int64_t f_int64, f_sint64, f_sfixed64;
    uint64_t f_uint64, f_fixed64;
    float f_float;
    double f_double;
    protobuf_c_boolean f_bool;
    int f_enum;
    char *f_string;
    ProtobufCBinaryData f_bytes;
    inner_t *f_message;
    size_t n_r_int32;
    int32_t *r_int32;
    size_t n_r_string;
    char **r_string;
    size_t n_r_message;
    inner_t **r_message;
    size_t n_r_enum;
    int *r_enum;
    size_t n_r_int64;
    int64_t *r_int64;
    protobuf_c_boolean has_opt_int32;
    int32_t opt_int32;
    char *opt_string;
    protobuf_c_boolean req_bool;
    uint32_t choice_case;
    union {
        int32_t choice_int;
        char *choice_str;
        inner_t *choice_msg;
    };
} every_t;

#define NONE(name_, id_, type_, member_, desc_)                                                    \
    FIELD(name_, id_, PROTOBUF_C_LABEL_NONE, type_, 0, offsetof(every_t, member_), desc_, 0)
#define REP(name_, id_, type_, member_, desc_)                                                     \
    FIELD(name_, id_, PROTOBUF_C_LABEL_REPEATED, type_, offsetof(every_t, n_##member_),            \
          offsetof(every_t, member_), desc_, 0)
#define ONEOF(name_, id_, type_, member_, desc_)                                                   \
    FIELD(name_, id_, PROTOBUF_C_LABEL_NONE, type_, offsetof(every_t, choice_case),                \
          offsetof(every_t, member_), desc_, PROTOBUF_C_FIELD_FLAG_ONEOF)

static const ProtobufCFieldDescriptor s_every_fields[] = {
    NONE("f_int32", 1, PROTOBUF_C_TYPE_INT32, f_int32, NULL),
    NONE("f_sint32", 2, PROTOBUF_C_TYPE_SINT32, f_sint32, NULL),
    NONE("f_sfixed32", 3, PROTOBUF_C_TYPE_SFIXED32, f_sfixed32, NULL),
    NONE("f_uint32", 4, PROTOBUF_C_TYPE_UINT32, f_uint32, NULL),
    NONE("f_fixed32", 5, PROTOBUF_C_TYPE_FIXED32, f_fixed32, NULL),
    NONE("f_int64", 6, PROTOBUF_C_TYPE_INT64, f_int64, NULL),
    NONE("f_sint64", 7, PROTOBUF_C_TYPE_SINT64, f_sint64, NULL),
    NONE("f_sfixed64", 8, PROTOBUF_C_TYPE_SFIXED64, f_sfixed64, NULL),
    NONE("f_uint64", 9, PROTOBUF_C_TYPE_UINT64, f_uint64, NULL),
    NONE("f_fixed64", 10, PROTOBUF_C_TYPE_FIXED64, f_fixed64, NULL),
    NONE("f_float", 11, PROTOBUF_C_TYPE_FLOAT, f_float, NULL),
    NONE("f_double", 12, PROTOBUF_C_TYPE_DOUBLE, f_double, NULL),
    NONE("f_bool", 13, PROTOBUF_C_TYPE_BOOL, f_bool, NULL),
    NONE("f_enum", 14, PROTOBUF_C_TYPE_ENUM, f_enum, &s_colour_desc),
    NONE("f_string", 15, PROTOBUF_C_TYPE_STRING, f_string, NULL),
    NONE("f_bytes", 16, PROTOBUF_C_TYPE_BYTES, f_bytes, NULL),
    NONE("f_message", 17, PROTOBUF_C_TYPE_MESSAGE, f_message, &s_inner_desc),
    REP("r_int32", 18, PROTOBUF_C_TYPE_INT32, r_int32, NULL),
    REP("r_string", 19, PROTOBUF_C_TYPE_STRING, r_string, NULL),
    REP("r_message", 20, PROTOBUF_C_TYPE_MESSAGE, r_message, &s_inner_desc),
    REP("r_enum", 21, PROTOBUF_C_TYPE_ENUM, r_enum, &s_colour_desc),
    REP("r_int64", 22, PROTOBUF_C_TYPE_INT64, r_int64, NULL),
    FIELD("opt_int32", 23, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
          offsetof(every_t, has_opt_int32), offsetof(every_t, opt_int32), NULL, 0),
    FIELD("opt_string", 24, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0,
          offsetof(every_t, opt_string), NULL, 0),
    FIELD("req_bool", 25, PROTOBUF_C_LABEL_REQUIRED, PROTOBUF_C_TYPE_BOOL, 0,
          offsetof(every_t, req_bool), NULL, 0),
    ONEOF("choice_int", 26, PROTOBUF_C_TYPE_INT32, choice_int, NULL),
    ONEOF("choice_str", 27, PROTOBUF_C_TYPE_STRING, choice_str, NULL),
    ONEOF("choice_msg", 28, PROTOBUF_C_TYPE_MESSAGE, choice_msg, &s_inner_desc),
};
static const ProtobufCMessageDescriptor s_every_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                        "test.Everything",
                                                        "Everything",
                                                        "Test__Everything",
                                                        "test",
                                                        sizeof(every_t),
                                                        sizeof s_every_fields /
                                                            sizeof s_every_fields[0],
                                                        s_every_fields,
                                                        NULL,
                                                        0,
                                                        NULL,
                                                        NULL,
                                                        NULL,
                                                        NULL,
                                                        NULL};

static void s_every_init(every_t *m)
{
    memset(m, 0, sizeof *m);
    m->base.descriptor = &s_every_desc;
}

static void s_inner_init(inner_t *m, int32_t n, char *s)
{
    memset(m, 0, sizeof *m);
    m->base.descriptor = &s_inner_desc;
    m->n = n;
    m->s = s;
}

/* Print `msg` with `flags` and compare with `want` exactly. */
static void s_expect(const void *msg, unsigned flags, const char *want)
{
    char *got = sp_pbjson_to_string(msg, flags);
    if (strcmp(got, want) != 0)
        print_error("want: %s\n got: %s\n", want, got);
    assert_string_equal(got, want);
    free(got);
}

/* ------------------------------------------------------------ tests */

static void test_empty_message(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    /* only the required field has presence without being set */
    s_expect(&m, 0, "{\"reqBool\":false}");
    s_expect(&m, SP_PBJSON_PROTO_NAMES, "{\"req_bool\":false}");
    s_expect(&m, SP_PBJSON_PRETTY, "{\n  \"reqBool\": false\n}");
    Samspil__V1__Tenant tenant = SAMSPIL__V1__TENANT__INIT;
    s_expect(&tenant, 0, "{}");
    s_expect(&tenant, SP_PBJSON_PRETTY, "{}");
}

static void test_emit_defaults(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    /* defaults of fields without presence appear; message, optional and
     * oneof members (which have presence) do not */
    s_expect(&m, SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_PROTO_NAMES,
             "{\"f_int32\":0,\"f_sint32\":0,\"f_sfixed32\":0,\"f_uint32\":0,\"f_fixed32\":0,"
             "\"f_int64\":\"0\",\"f_sint64\":\"0\",\"f_sfixed64\":\"0\",\"f_uint64\":\"0\","
             "\"f_fixed64\":\"0\",\"f_float\":0,\"f_double\":0,\"f_bool\":false,"
             "\"f_enum\":\"COLOUR_UNSPECIFIED\",\"f_string\":\"\",\"f_bytes\":\"\","
             "\"r_int32\":[],\"r_string\":[],\"r_message\":[],\"r_enum\":[],\"r_int64\":[],"
             "\"req_bool\":false}");
    s_expect(&m, SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_SHORT_ENUMS,
             "{\"fInt32\":0,\"fSint32\":0,\"fSfixed32\":0,\"fUint32\":0,\"fFixed32\":0,"
             "\"fInt64\":\"0\",\"fSint64\":\"0\",\"fSfixed64\":\"0\",\"fUint64\":\"0\","
             "\"fFixed64\":\"0\",\"fFloat\":0,\"fDouble\":0,\"fBool\":false,"
             "\"fEnum\":\"\",\"fString\":\"\",\"fBytes\":\"\","
             "\"rInt32\":[],\"rString\":[],\"rMessage\":[],\"rEnum\":[],\"rInt64\":[],"
             "\"reqBool\":false}");
}

static void test_every_scalar(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    m.f_int32 = -2147483647 - 1;
    m.f_sint32 = -5;
    m.f_sfixed32 = 2147483647;
    m.f_uint32 = 4294967295u;
    m.f_fixed32 = 7;
    m.f_int64 = INT64_MIN;
    m.f_sint64 = -1;
    m.f_sfixed64 = INT64_MAX;
    m.f_uint64 = UINT64_MAX;
    m.f_fixed64 = 9007199254740993ull; /* not exact as a double: why 64-bit are strings */
    m.f_float = 0.1f;
    m.f_double = 0.1;
    m.f_bool = 1;
    m.f_enum = 1;
    m.f_string = "hej";
    uint8_t bytes[] = {0xde, 0xad, 0xbe, 0xef};
    m.f_bytes.data = bytes;
    m.f_bytes.len = sizeof bytes;
    m.req_bool = 1;
    s_expect(&m, SP_PBJSON_PROTO_NAMES,
             "{\"f_int32\":-2147483648,\"f_sint32\":-5,\"f_sfixed32\":2147483647,"
             "\"f_uint32\":4294967295,\"f_fixed32\":7,\"f_int64\":\"-9223372036854775808\","
             "\"f_sint64\":\"-1\",\"f_sfixed64\":\"9223372036854775807\","
             "\"f_uint64\":\"18446744073709551615\",\"f_fixed64\":\"9007199254740993\","
             "\"f_float\":0.1,\"f_double\":0.1,\"f_bool\":true,\"f_enum\":\"COLOUR_DARK_RED\","
             "\"f_string\":\"hej\",\"f_bytes\":\"3q2+7w==\",\"req_bool\":true}");
}

static void test_enums(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    int colours[] = {2, 1, 0, 99};
    m.f_enum = 1;
    m.r_enum = colours;
    m.n_r_enum = 4;
    m.req_bool = 1;
    s_expect(&m, 0,
             "{\"fEnum\":\"COLOUR_DARK_RED\",\"rEnum\":[\"COLOUR_BLUE\",\"COLOUR_DARK_RED\","
             "\"COLOUR_UNSPECIFIED\",99],\"reqBool\":true}");
    s_expect(&m, SP_PBJSON_SHORT_ENUMS,
             "{\"fEnum\":\"dark_red\",\"rEnum\":[\"blue\",\"dark_red\",\"\",99],\"reqBool\":true}");
    /* an unknown singular value prints as its number too */
    m.f_enum = -3;
    m.n_r_enum = 0;
    s_expect(&m, SP_PBJSON_SHORT_ENUMS, "{\"fEnum\":-3,\"reqBool\":true}");

    /* generated Samspil enums: qualified descriptor names */
    Samspil__V1__Membership ms = SAMSPIL__V1__MEMBERSHIP__INIT;
    Samspil__V1__MemberRole roles[] = {SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_INITIATOR,
                                       SAMSPIL__V1__MEMBER_ROLE__MEMBER_ROLE_NEEDS_SUPPORT};
    ms.roles = roles;
    ms.n_roles = 2;
    ms.knowledge_basis = SAMSPIL__V1__KNOWLEDGE_BASIS__KNOWLEDGE_BASIS_BOTH;
    s_expect(&ms, SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES,
             "{\"roles\":[\"initiator\",\"needs_support\"],\"knowledge_basis\":\"both\"}");
    s_expect(&ms, 0,
             "{\"roles\":[\"MEMBER_ROLE_INITIATOR\",\"MEMBER_ROLE_NEEDS_SUPPORT\"],"
             "\"knowledgeBasis\":\"KNOWLEDGE_BASIS_BOTH\"}");
}

static void test_repeated_and_nested(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    int32_t ints[] = {1, -2, 3};
    char *strs[] = {"a", "", "c"};
    int64_t longs[] = {-4, 5000000000};
    inner_t in1, in2, single;
    s_inner_init(&in1, 1, "x");
    s_inner_init(&in2, 0, NULL);
    s_inner_init(&single, 42, "deep");
    inner_t *msgs[] = {&in1, &in2};
    m.r_int32 = ints;
    m.n_r_int32 = 3;
    m.r_string = strs;
    m.n_r_string = 3;
    m.r_message = msgs;
    m.n_r_message = 2;
    m.r_int64 = longs;
    m.n_r_int64 = 2;
    m.f_message = &single;
    s_expect(&m, SP_PBJSON_PROTO_NAMES,
             "{\"f_message\":{\"n\":42,\"s\":\"deep\"},\"r_int32\":[1,-2,3],"
             "\"r_string\":[\"a\",\"\",\"c\"],\"r_message\":[{\"n\":1,\"s\":\"x\"},{}],"
             "\"r_int64\":[\"-4\",\"5000000000\"],\"req_bool\":false}");
    s_expect(&m, SP_PBJSON_PROTO_NAMES | SP_PBJSON_PRETTY,
             "{\n"
             "  \"f_message\": {\n"
             "    \"n\": 42,\n"
             "    \"s\": \"deep\"\n"
             "  },\n"
             "  \"r_int32\": [\n"
             "    1,\n"
             "    -2,\n"
             "    3\n"
             "  ],\n"
             "  \"r_string\": [\n"
             "    \"a\",\n"
             "    \"\",\n"
             "    \"c\"\n"
             "  ],\n"
             "  \"r_message\": [\n"
             "    {\n"
             "      \"n\": 1,\n"
             "      \"s\": \"x\"\n"
             "    },\n"
             "    {}\n"
             "  ],\n"
             "  \"r_int64\": [\n"
             "    \"-4\",\n"
             "    \"5000000000\"\n"
             "  ],\n"
             "  \"req_bool\": false\n"
             "}");
    /* pretty with defaults: empty arrays stay on one line, nested defaults appear */
    s_every_init(&m);
    s_inner_init(&single, 0, NULL);
    m.f_message = &single;
    char *got = sp_pbjson_to_string(&m.base, SP_PBJSON_PROTO_NAMES | SP_PBJSON_PRETTY |
                                                 SP_PBJSON_EMIT_DEFAULTS);
    assert_non_null(strstr(got, "  \"f_message\": {\n    \"n\": 0,\n    \"s\": \"\"\n  },\n"));
    assert_non_null(strstr(got, "  \"r_int32\": [],\n"));
    free(got);
}

static void test_optional_and_oneof(void **state)
{
    (void)state;
    every_t m;
    s_every_init(&m);
    m.has_opt_int32 = 1; /* present although 0 */
    m.opt_int32 = 0;
    m.opt_string = "";  /* present although empty */
    m.choice_case = 26; /* oneof member set to its default: still printed */
    m.choice_int = 0;
    s_expect(&m, SP_PBJSON_PROTO_NAMES,
             "{\"opt_int32\":0,\"opt_string\":\"\",\"req_bool\":false,\"choice_int\":0}");
    m.has_opt_int32 = 0;
    m.opt_string = NULL;
    m.choice_case = 27;
    m.choice_str = "only me";
    s_expect(&m, SP_PBJSON_PROTO_NAMES | SP_PBJSON_EMIT_DEFAULTS | SP_PBJSON_SHORT_ENUMS,
             "{\"f_int32\":0,\"f_sint32\":0,\"f_sfixed32\":0,\"f_uint32\":0,\"f_fixed32\":0,"
             "\"f_int64\":\"0\",\"f_sint64\":\"0\",\"f_sfixed64\":\"0\",\"f_uint64\":\"0\","
             "\"f_fixed64\":\"0\",\"f_float\":0,\"f_double\":0,\"f_bool\":false,"
             "\"f_enum\":\"\",\"f_string\":\"\",\"f_bytes\":\"\","
             "\"r_int32\":[],\"r_string\":[],\"r_message\":[],\"r_enum\":[],\"r_int64\":[],"
             "\"req_bool\":false,\"choice_str\":\"only me\"}");
    inner_t in;
    s_inner_init(&in, 7, NULL);
    m.choice_case = 28;
    m.choice_msg = &in;
    s_expect(&m, 0, "{\"reqBool\":false,\"choiceMsg\":{\"n\":7}}");

    /* the generated reply envelope: error is a oneof member sharing the oneof */
    Samspil__V1__RegistrationReply reply = SAMSPIL__V1__REGISTRATION_REPLY__INIT;
    Samspil__V1__Error err = SAMSPIL__V1__ERROR__INIT;
    err.code = SAMSPIL__V1__ERROR_CODE__ERROR_CODE_NOT_FOUND;
    err.message = "no actor";
    err.field = "id";
    reply.result_case = SAMSPIL__V1__REGISTRATION_REPLY__RESULT_ERROR;
    reply.error = &err;
    s_expect(&reply, SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES,
             "{\"error\":{\"code\":\"not_found\",\"message\":\"no actor\",\"field\":\"id\"}}");
    s_expect(&reply, SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES | SP_PBJSON_EMIT_DEFAULTS,
             "{\"error\":{\"code\":\"not_found\",\"message\":\"no actor\",\"field\":\"id\"},"
             "\"correlation_id\":\"0\",\"created\":false}");
}

static void test_escaping(void **state)
{
    (void)state;
    Samspil__V1__Tenant t = SAMSPIL__V1__TENANT__INIT;
    t.code = "q\"b\\s/";
    t.name = "line\nfeed\ttab\r\x01\x1f\x7f æøå \xff!";
    s_expect(&t, 0,
             "{\"code\":\"q\\\"b\\\\s/\",\"name\":\"line\\nfeed\\ttab\\r\\u0001\\u001f\\u007f "
             "\xc3\xa6\xc3\xb8\xc3\xa5 \xef\xbf\xbd!\"}");
    /* field names escape the same way (trivially: protobuf names are identifiers) */
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    a.external_ref = "sys:1";
    a.created_at = "2026-01-01T00:00:00Z";
    s_expect(&a, 0, "{\"externalRef\":\"sys:1\",\"createdAt\":\"2026-01-01T00:00:00Z\"}");
    s_expect(&a, SP_PBJSON_PROTO_NAMES,
             "{\"external_ref\":\"sys:1\",\"created_at\":\"2026-01-01T00:00:00Z\"}");
}

static void test_bytes_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"f", "{\"payload\":\"Zg==\"}"},         {"fo", "{\"payload\":\"Zm8=\"}"},
        {"foo", "{\"payload\":\"Zm9v\"}"},       {"foob", "{\"payload\":\"Zm9vYg==\"}"},
        {"fooba", "{\"payload\":\"Zm9vYmE=\"}"}, {"foobar", "{\"payload\":\"Zm9vYmFy\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Samspil__V1__EchoRequest r = SAMSPIL__V1__ECHO_REQUEST__INIT;
        r.payload.data = (uint8_t *)cases[i].in;
        r.payload.len = strlen(cases[i].in);
        s_expect(&r, 0, cases[i].out);
    }
    Samspil__V1__EchoRequest r = SAMSPIL__V1__ECHO_REQUEST__INIT;
    uint8_t bin[] = {0x00, 0xff, 0xfe, 0x3e, 0x3f};
    r.payload.data = bin;
    r.payload.len = sizeof bin;
    r.correlation_id = 18446744073709551615ull;
    s_expect(&r, 0, "{\"payload\":\"AP/+Pj8=\",\"correlationId\":\"18446744073709551615\"}");
    Samspil__V1__EchoRequest empty = SAMSPIL__V1__ECHO_REQUEST__INIT;
    s_expect(&empty, SP_PBJSON_EMIT_DEFAULTS, "{\"payload\":\"\",\"correlationId\":\"0\"}");
}

static void s_expect_double(double v, const char *want)
{
    every_t m;
    s_every_init(&m);
    m.f_double = v;
    char expect[128];
    snprintf(expect, sizeof expect, "{\"f_double\":%s,\"req_bool\":false}", want);
    s_expect(&m, SP_PBJSON_PROTO_NAMES, expect);
}

static void s_expect_float(float v, const char *want)
{
    every_t m;
    s_every_init(&m);
    m.f_float = v;
    char expect[128];
    snprintf(expect, sizeof expect, "{\"f_float\":%s,\"req_bool\":false}", want);
    s_expect(&m, SP_PBJSON_PROTO_NAMES, expect);
}

static void test_reals(void **state)
{
    (void)state;
    s_expect_double(0.1, "0.1");
    s_expect_double(-2.5, "-2.5");
    s_expect_double(100, "100");
    s_expect_double(123.456, "123.456");
    s_expect_double(1e20, "100000000000000000000");
    s_expect_double(1e21, "1e+21");
    s_expect_double(1.5e300, "1.5e+300");
    s_expect_double(0.000001, "0.000001");
    s_expect_double(1e-7, "1e-7");
    s_expect_double(5e-324, "5e-324");
    s_expect_double(1.0 / 3.0, "0.3333333333333333");
    s_expect_double(9007199254740993.0, "9007199254740992");
    /* -0 equals 0, so like protobuf-c on the wire it counts as the default */
    every_t m;
    s_every_init(&m);
    m.f_double = -0.0;
    s_expect(&m, 0, "{\"reqBool\":false}");
    char *got = sp_pbjson_to_string(&m.base, SP_PBJSON_EMIT_DEFAULTS);
    assert_non_null(strstr(got, ",\"fDouble\":-0,"));
    free(got);
    s_expect_double(NAN, "\"NaN\"");
    s_expect_double(INFINITY, "\"Infinity\"");
    s_expect_double(-INFINITY, "\"-Infinity\"");
    s_expect_float(0.1f, "0.1");
    s_expect_float(1.0f / 3.0f, "0.33333334");
    s_expect_float(16777217.0f, "16777216");
    s_expect_float(3.4028235e38f, "3.4028235e+38");
}

static void test_generated_entity(void **state)
{
    (void)state;
    Samspil__V1__Actor a = SAMSPIL__V1__ACTOR__INIT;
    a.id = "0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11";
    a.kind = SAMSPIL__V1__ACTOR_KIND__ACTOR_KIND_CITIZEN;
    a.name = "Jens";
    char *interests[] = {"skole", "idraet"};
    a.interests = interests;
    a.n_interests = 2;
    Samspil__V1__ContactPoint cp = SAMSPIL__V1__CONTACT_POINT__INIT;
    cp.kind = SAMSPIL__V1__CONTACT_KIND__CONTACT_KIND_EMAIL;
    cp.value = "j@example.org";
    cp.preferred = 1;
    Samspil__V1__ContactPoint *cps[] = {&cp};
    a.contact_points = cps;
    a.n_contact_points = 1;
    s_expect(
        &a, SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES,
        "{\"id\":\"0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11\",\"kind\":\"citizen\",\"name\":\"Jens\","
        "\"interests\":[\"skole\",\"idraet\"],\"contact_points\":[{\"kind\":\"email\","
        "\"value\":\"j@example.org\",\"preferred\":true}]}");
    s_expect(
        &a, SP_PBJSON_SHORT_ENUMS | SP_PBJSON_PROTO_NAMES | SP_PBJSON_EMIT_DEFAULTS,
        "{\"id\":\"0b5e6a0e-8f0a-4a57-9d1c-6a1f0e2b7c11\",\"kind\":\"citizen\",\"name\":\"Jens\","
        "\"organisation_id\":\"\",\"sector\":\"\",\"interests\":[\"skole\",\"idraet\"],"
        "\"preferred_language\":\"\",\"accessibility_needs\":[],\"contact_points\":[{"
        "\"kind\":\"email\",\"value\":\"j@example.org\",\"preferred\":true}],"
        "\"vulnerable\":false,\"external_ref\":\"\",\"created_at\":\"\",\"updated_at\":\"\"}");

    /* indent: an object nested in hand-written pretty JSON */
    Samspil__V1__Tenant t = SAMSPIL__V1__TENANT__INIT;
    t.code = "751";
    sp_buf_t buf;
    sp_buf_init(&buf);
    sp_buf_puts(&buf, "[\n  ");
    sp_pbjson_append(&buf, &t.base, SP_PBJSON_PRETTY, 1);
    sp_buf_puts(&buf, "\n]");
    assert_string_equal(buf.data, "[\n  {\n    \"code\": \"751\"\n  }\n]");
    sp_buf_free(&buf);

    char name[8];
    assert_string_equal(
        sp_pbjson_field_name(&samspil__v1__actor__descriptor.fields[6], 0, name, sizeof name),
        "preferr"); /* truncated to fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_emit_defaults),
        cmocka_unit_test(test_every_scalar),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_repeated_and_nested),
        cmocka_unit_test(test_optional_and_oneof),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_bytes_base64),
        cmocka_unit_test(test_reals),
        cmocka_unit_test(test_generated_entity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
