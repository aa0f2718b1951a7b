/*
 * libFuzzer target: the one-pass JSON checker and picker (util/jscan.h)
 * that reads every REST page. Besides not crashing, it must agree with
 * jansson: a document jansson accepts (without raw NUL bytes, which
 * jansson takes for the end) is accepted, with the same number of
 * records at the path "data" and the same string at "next". A scan that
 * wants no record field but every record key (as REST pages without an
 * incremental cursor are scanned) must come to the same verdict and
 * values.
 */
#include "util/jscan.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t seen, keys;

static void on_key(void *ctx, const char *key, size_t len)
{
    (void)ctx;
    (void)key;
    (void)len;
    keys++;
}

static void on_field(void *ctx, const struct sm_jscan_value *v)
{
    (void)ctx;
    if ((v->type == SM_JSCAN_STRING || v->type == SM_JSCAN_NUMBER) && !v->text)
        abort();
    seen++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"next", "meta.total", "", NULL};
    struct sm_jscan_query q = {
        .records = "data", .paths = paths, .record_field = "id", .on_field = on_field};
    struct sm_jscan_result r;
    int rc = sm_jscan((const char *)data, size, &q, &r, NULL);
    if (!rc && r.nobjects > r.nrecords)
        abort();
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    /* jansson stops at a raw NUL byte as at the end of input; jscan calls
     * it text after the document. Elsewhere, what jansson accepts jscan
     * must accept. */
    if (j && rc && !memchr(data, 0, size))
        abort();
    if (j && !rc) {
        json_t *d = json_is_object(j) ? json_object_get(j, "data") : NULL;
        size_t want = json_is_array(d) ? json_array_size(d) : json_is_object(d) ? 1 : 0;
        size_t objs = 0;
        for (size_t i = 0; json_is_array(d) && i < json_array_size(d); i++)
            objs += json_is_object(json_array_get(d, i));
        if (json_is_object(d))
            objs = 1;
        if (want != r.nrecords || objs != r.nobjects)
            abort();
        json_t *nx = json_is_object(j) ? json_object_get(j, "next") : NULL;
        if (json_is_string(nx) &&
            (r.values[0].type != SM_JSCAN_STRING || r.values[0].len != json_string_length(nx) ||
             memcmp(r.values[0].text, json_string_value(nx), r.values[0].len)))
            abort();
        if (r.values[2].type == SM_JSCAN_ABSENT)
            abort(); /* "" is the document itself */
    }
    json_decref(j);
    struct sm_jscan_query kq = {.records = "data", .paths = paths, .on_key = on_key};
    struct sm_jscan_result kr;
    if (sm_jscan((const char *)data, size, &kq, &kr, NULL) != rc)
        abort();
    if (!rc && (kr.nrecords != r.nrecords || kr.nobjects != r.nobjects))
        abort();
    for (size_t i = 0; !rc && i < r.nvalues; i++)
        if (kr.values[i].type != r.values[i].type || kr.values[i].len != r.values[i].len ||
            (r.values[i].text && memcmp(kr.values[i].text, r.values[i].text, r.values[i].len)))
            abort();
    sm_jscan_result_release(&kr);
    sm_jscan_result_release(&r);
    return 0;
}
