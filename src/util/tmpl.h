/*
 * tmpl — strings with {field} placeholders, for the path and parameters of
 * a child REST endpoint that are filled from the records of its parent
 * ("orders/{id}/items", "{customer.id}"). Parsing is separate from filling:
 * the project loader checks the syntax with file:line before any work, and
 * ingest/ fills the fields of each request from a parent record.
 *
 *     struct sm_tmpl t;
 *     if (sm_tmpl_parse("orders/{id}/items", &t, &err))
 *         return ...;               // err: what is wrong and at which character
 *     for (size_t i = 0; i < t.n; i++)
 *         if (t.parts[i].field) ... value of record field t.parts[i].text ...
 *         else ... the literal t.parts[i].text ...
 *     sm_tmpl_release(&t);
 *
 * Syntax: "{name}" is a field, where name is a path of keys separated by
 * dots ("id", "customer.id"); a key cannot hold '{', '}', '[', ']', '$',
 * '*', quotes or white space. "{{" and "}}" stand for literal braces, and
 * a '}' outside a field is literal. "${...}" (a secret or environment
 * reference, DESIGN.md §4) and "$${" are literal text, left whole for
 * sec_resolve(), so placeholders and references never mix: a value filled
 * in from an API response is never resolved as a reference.
 */
#ifndef SM_TMPL_H
#define SM_TMPL_H

#include "util/util.h"

struct sm_tmpl_part {
    char *text; /* literal text, or the field's path */
    bool field;
};

struct sm_tmpl {
    struct sm_tmpl_part *parts; /* literal and field parts in order; no two literals adjacent */
    size_t n;
    size_t nfields; /* how many parts are fields */
};

/* Parse s into *out (zeroed first; release it with sm_tmpl_release()
 * whatever the result). SM_EINVALID with a message that quotes the
 * offending part and says what to write instead. */
int sm_tmpl_parse(const char *s, struct sm_tmpl *out, struct sm_err *err) SM_MUST_USE;
void sm_tmpl_release(struct sm_tmpl *t);

#endif
