/*
 * member.c — checks on the names of archive members. A member's name is
 * outside input: whoever made the archive chose it. smelt never uses it as
 * a path (members are extracted to temporary files of its own naming), but
 * a name that would escape the folder it is extracted to is refused all the
 * same, because every other tool that unpacks the landed archive would
 * follow it, and because the name is shown in the lake as provenance.
 * No libarchive here, so that the fuzz target needs nothing but util/.
 */
#include "ingest.h"

enum { MAX_MEMBER_NAME = 4096 };

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

char *ing_member_name_shown(const char *name, size_t len)
{
    struct sm_buf b = SM_BUF_INIT;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len && b.len < MAX_MEMBER_NAME;) {
        size_t k = utf8_len(s + i, len - i);
        if (!k || s[i] < 0x20 || s[i] == 0x7f) {
            (void)sm_buf_addc(&b, '?');
            i += k ? k : 1;
            continue;
        }
        (void)sm_buf_add(&b, s + i, k);
        i += k;
    }
    return sm_buf_detach(&b);
}

int ing_member_name_check(const char *name, size_t len, struct sm_err *err)
{
    const unsigned char *s = (const unsigned char *)name;
    if (!len)
        return sm_err_set(err, SM_EINVALID, "the member has no name");
    if (len > MAX_MEMBER_NAME)
        return sm_err_set(err, SM_EINVALID, "the member's name is longer than %d bytes",
                          MAX_MEMBER_NAME);
    if (s[0] == '/' || s[0] == '\\')
        return sm_err_set(err, SM_EINVALID,
                          "the member's name is an absolute path: it would be extracted outside "
                          "the folder of the archive");
    if (len >= 2 && s[1] == ':' && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return sm_err_set(err, SM_EINVALID,
                          "the member's name starts with a drive letter: it would be extracted "
                          "outside the folder of the archive");
    for (size_t i = 0; i < len;) {
        if (!s[i] || s[i] < 0x20 || s[i] == 0x7f)
            return sm_err_set(err, SM_EINVALID,
                              "the member's name holds a control character (byte %zu)", i + 1);
        size_t k = utf8_len(s + i, len - i);
        if (!k)
            return sm_err_set(err, SM_EINVALID, "the member's name is not valid UTF-8 (byte %zu)",
                              i + 1);
        i += k;
    }
    /* ".." as a whole segment, '/' or '\' separated. */
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '/' && s[j] != '\\')
            j++;
        if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
            return sm_err_set(err, SM_EINVALID,
                              "the member's name has a '..' segment: it would be extracted "
                              "outside the folder of the archive");
        i = j + 1;
    }
    return 0;
}
