/*
 * textfold.c — the text analysis of storage-attached indexes, for matching.
 *
 * What: an SAI index on a text column with `case_sensitive: false` and/or
 * `ascii: true` (Cassandra's NonTokenizingAnalyzer) matches = and CONTAINS
 * on the analyzed form of both sides. Queries on such columns run as
 * filtered scans (analyze.c), so the row filter compares analyzed forms:
 * ex_fold_equal folds both values code point by code point and compares;
 * ex_fold_case gives the case-folded bytes themselves (term tables key
 * terms by them, exec/sai.c), folded the same way.
 *
 * Coverage: case folding lowers ASCII and Latin-1 letters (Java's
 * toLowerCase does all of Unicode); ASCII folding maps the Latin-1
 * Supplement letters to their base letters as Lucene's ASCIIFoldingFilter
 * does (é -> e, Æ -> AE, ß -> ss). `normalize: true` (NFC) is treated as
 * the identity: text that arrives precomposed, as almost all does, is
 * already NFC. Other scripts compare exactly.
 *
 * Invariants:
 *  1. Pure functions of their input: no locale, no allocation.
 *  2. Invalid UTF-8 bytes compare as themselves.
 */
#include <string.h>

#include "exec/execInt.h"

/* ASCII folding of U+00C0..U+00FF (Lucene's ASCIIFoldingFilter). */
static const char *const LATIN1[64] = {
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I",  "I",
    "D", "N", "O", "O", "O", "O", "O",  0,   "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  0,   "o", "u", "u", "u", "u", "y", "th", "y",
};

/* The next folded piece of s at *i: up to 3 bytes into out; its length. */
static int next_piece(const uint8_t *s, int32_t n, int32_t *i, unsigned flags, uint8_t out[4])
{
    uint8_t c = s[*i];
    if (c < 0x80) {
        (*i)++;
        if ((flags & EX_FOLD_CASE) && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 'a' - 'A');
        out[0] = c;
        return 1;
    }
    /* two-byte sequences of U+0080..U+07FF */
    if ((c & 0xE0) == 0xC0 && *i + 1 < n && (s[*i + 1] & 0xC0) == 0x80) {
        unsigned cp = ((unsigned)(c & 0x1F) << 6) | (s[*i + 1] & 0x3F);
        *i += 2;
        if ((flags & EX_FOLD_CASE) && cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 0x20;
        if ((flags & EX_FOLD_ASCII) && cp >= 0xC0 && cp <= 0xFF && LATIN1[cp - 0xC0]) {
            const char *r = LATIN1[cp - 0xC0];
            int k = 0;
            for (; r[k]; k++) {
                uint8_t x = (uint8_t)r[k];
                if ((flags & EX_FOLD_CASE) && x >= 'A' && x <= 'Z') x = (uint8_t)(x + 'a' - 'A');
                out[k] = x;
            }
            return k;
        }
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    (*i)++;
    out[0] = c;
    return 1;
}

bool ex_fold_equal(const uint8_t *a, int32_t al, const uint8_t *b, int32_t bl, unsigned flags)
{
    int32_t i = 0, j = 0;
    uint8_t pa[4], pb[4];
    int na = 0, nb = 0, ka = 0, kb = 0;
    for (;;) {
        if (ka == na) {
            if (i >= al)
                na = 0;
            else
                na = next_piece(a, al, &i, flags, pa);
            ka = 0;
        }
        if (kb == nb) {
            if (j >= bl)
                nb = 0;
            else
                nb = next_piece(b, bl, &j, flags, pb);
            kb = 0;
        }
        if (!na || !nb) return !na && !nb;
        if (pa[ka++] != pb[kb++]) return false;
    }
}

void ex_fold_case(const uint8_t *in, uint32_t len, uint8_t *out)
{
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c >= 'A' && c <= 'Z') {
            out[i] = (uint8_t)(c + 'a' - 'A');
        } else if ((c == 0xC3) && i + 1 < len && in[i + 1] >= 0x80 && in[i + 1] <= 0x9E &&
                   in[i + 1] != 0x97) { /* U+00C0..U+00DE except U+00D7: + 0x20 */
            out[i] = c;
            out[i + 1] = (uint8_t)(in[i + 1] + 0x20);
            i++;
        } else {
            out[i] = c;
        }
    }
}
