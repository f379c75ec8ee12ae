/*
 * lexer.c — splits CQL text into tokens, one call per token (as SQLite's
 * tokenize.c does), for the lemon parser generated from grammar.y.
 *
 * What: cqlp_get_token() recognises, at the start of its input, one of
 *   white space (' ', '\t', '\n', '\r') and comments (-- and // to the end of
 *     the line, slash-star to star-slash), reported as CQLP_TK_SPACE;
 *   identifiers [A-Za-z][A-Za-z0-9_]* and keywords (case-insensitively;
 *     true/false become TK_BOOL, NaN/Infinity TK_FLOAT; reserved words the
 *     grammar does not use yet become TK_RESERVED so they can never be
 *     identifiers);
 *   "quoted identifiers" ("" inside stands for "; "" alone is
 *     TK_EMPTY_QUOTED, which no rule accepts, as in Cassandra);
 *   'strings' ('' inside stands for ') and $$pg-style strings$$;
 *   numbers: -?[0-9]+ (TK_INTEGER), -?[0-9]+(.[0-9]*)?([eE][+-]?[0-9]+)?
 *     (TK_FLOAT), -NaN and -Infinity (TK_FLOAT), 0x[0-9a-fA-F]* (TK_HEX),
 *     8-4-4-4-12 hex digits (TK_UUID);
 *   durations (TK_DURATION): -?([0-9]+ unit)+ with the units y mo w d h m s
 *     ms us µs ns in any case (longest match: 1h30m is one token, 1x is
 *     1 then x), and the ISO 8601 forms -?P[nY][nM][nD][T[nH][nM][nS]],
 *     -?PnW and -?Pyyyy-mm-ddThh:mm:ss (upper case; P alone and PT stay
 *     identifiers, a longer identifier wins: P1Yz is an identifier);
 *   punctuation, and ? and : for bind markers.
 *
 * Why these rules: they are Cassandra 5.0's lexer rules (Lexer.g), so that
 * the same text splits the same way: a minus sign directly before digits
 * belongs to the number, a UUID wins over an identifier or a number that
 * starts it, and a keyword is any case of its letters. Where numbers and
 * UUIDs share a prefix, the split follows Cassandra's lexer DFA, which
 * never backs up (number_or_uuid): 12345678-1 and 12ab are broken UUIDs
 * ("mismatched character ... expecting set null"), 1e) has no token
 * ("no viable alternative at character ')'"), 1e+) an exponent without
 * digits ("required (...)+ loop did not match anything"). Two deliberate
 * differences: a line comment may end at the end of the input (Cassandra
 * demands a newline), and a NUL byte is rejected everywhere because the
 * syntax tree holds C strings.
 *
 * Invariants:
 *  1. The lexer never reads past z[n-1] and never allocates.
 *  2. Every byte of the input belongs to exactly one token; the lengths of
 *     the tokens returned for an input sum to its size (until an error).
 *  3. A token never starts with a UTF-8 continuation byte: non-ASCII bytes
 *     are only legal inside strings, quoted identifiers and comments.
 */
#include <string.h>

#include "cql/cqlInt.h"
#include "grammar.h"

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_ident(int c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}
static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

typedef struct keyword {
    const char *word; /* lower case */
    int token;
} keyword;

/* Keywords and what they lex to. Sorted by word for bsearch. Words that
 * are Cassandra keywords but unreserved and unused by our grammar (text,
 * type, ttl's friends...) are plain identifiers and need no entry. */
static const keyword keywords[] = {
    {"add", TK_ADD},
    {"all", TK_ALL},
    {"allow", TK_ALLOW},
    {"alter", TK_ALTER},
    {"and", TK_AND},
    {"ann", TK_ANN},
    {"apply", TK_APPLY},
    {"as", TK_AS},
    {"asc", TK_ASC},
    {"authorize", TK_AUTHORIZE},
    {"batch", TK_BATCH},
    {"begin", TK_BEGIN},
    {"by", TK_BY},
    {"cast", TK_CAST},
    {"cluster", TK_CLUSTER},
    {"clustering", TK_CLUSTERING},
    {"columnfamily", TK_TABLE},
    {"compact", TK_COMPACT},
    {"contains", TK_CONTAINS},
    {"create", TK_CREATE},
    {"custom", TK_CUSTOM},
    {"default", TK_DEFAULT},
    {"delete", TK_DELETE},
    {"desc", TK_DESC},
    {"describe", TK_DESCRIBE},
    {"distinct", TK_DISTINCT},
    {"drop", TK_DROP},
    {"entries", TK_ENTRIES},
    {"execute", TK_EXECUTE},
    {"exists", TK_EXISTS},
    {"false", TK_BOOL},
    {"filtering", TK_FILTERING},
    {"from", TK_FROM},
    {"frozen", TK_FROZEN},
    {"full", TK_FULL},
    {"grant", TK_GRANT},
    {"group", TK_GROUP},
    {"hashed", TK_HASHED},
    {"if", TK_IF},
    {"in", TK_IN},
    {"index", TK_INDEX},
    {"infinity", TK_FLOAT},
    {"insert", TK_INSERT},
    {"into", TK_INTO},
    {"is", TK_IS},
    {"json", TK_JSON},
    {"key", TK_KEY},
    {"keys", TK_KEYS},
    {"keyspace", TK_KEYSPACE},
    {"keyspaces", TK_KEYSPACES},
    {"limit", TK_LIMIT},
    {"list", TK_LIST},
    {"login", TK_LOGIN},
    {"materialized", TK_MATERIALIZED},
    {"modify", TK_MODIFY},
    {"nan", TK_FLOAT},
    {"norecursive", TK_NORECURSIVE},
    {"nosuperuser", TK_NOSUPERUSER},
    {"not", TK_NOT},
    {"null", TK_NULL},
    {"of", TK_OF},
    {"on", TK_ON},
    {"options", TK_OPTIONS},
    {"or", TK_RESERVED},
    {"order", TK_ORDER},
    {"partition", TK_PARTITION},
    {"password", TK_PASSWORD},
    {"per", TK_PER},
    {"permission", TK_PERMISSION},
    {"permissions", TK_PERMISSIONS},
    {"primary", TK_PRIMARY},
    {"rename", TK_RENAME},
    {"revoke", TK_REVOKE},
    {"role", TK_ROLE},
    {"roles", TK_ROLES},
    {"schema", TK_KEYSPACE},
    {"select", TK_SELECT},
    {"select_masked", TK_SELECT_MASKED},
    {"set", TK_SET},
    {"static", TK_STATIC},
    {"storage", TK_STORAGE},
    {"superuser", TK_SUPERUSER},
    {"table", TK_TABLE},
    {"tables", TK_TABLES},
    {"timestamp", TK_TIMESTAMP},
    {"to", TK_TO},
    {"token", TK_TOKEN},
    {"true", TK_BOOL},
    {"truncate", TK_TRUNCATE},
    {"ttl", TK_TTL},
    {"unlogged", TK_UNLOGGED},
    {"unmask", TK_UNMASK},
    {"update", TK_UPDATE},
    {"use", TK_USE},
    {"user", TK_USER},
    {"users", TK_USERS},
    {"using", TK_USING},
    {"values", TK_VALUES},
    {"view", TK_VIEW},
    {"where", TK_WHERE},
    {"with", TK_WITH},
};

/* Case-insensitive compare of z[0..n) with the lower-case word w. */
static int word_cmp(const char *z, int n, const char *w)
{
    for (int i = 0; i < n; i++) {
        int c = (unsigned char)z[i];
        if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
        int d = (unsigned char)w[i];
        if (d == 0) return 1;
        if (c != d) return c - d;
    }
    return w[n] == 0 ? 0 : -1;
}

static int keyword_code(const char *z, int n)
{
    int lo = 0, hi = (int)HLN_ARRAY_LEN(keywords) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = word_cmp(z, n, keywords[mid].word);
        if (c == 0) return keywords[mid].token;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return TK_ID;
}

/* Length of a UUID at z, or 0 if there is none. */
static int uuid_len(const char *z, size_t n)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        if (g > 0) {
            if (i >= n || z[i] != '-') return 0;
            i++;
        }
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= n || !is_hex((unsigned char)z[i])) return 0;
    }
    return (int)i;
}

/* Length of the identifier-shaped word at z (z[0] is a letter). */
static size_t word_len(const char *z, size_t n)
{
    size_t i = 1;
    while (i < n && is_ident((unsigned char)z[i]))
        i++;
    return i;
}

static int lower_c(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Length of the duration unit at z (Cassandra's DURATION_UNIT), or 0. */
static size_t unit_len(const char *z, size_t n)
{
    int a = n > 0 ? lower_c((unsigned char)z[0]) : 0, b = n > 1 ? lower_c((unsigned char)z[1]) : 0;
    if (a == 'm' && (b == 'o' || b == 's')) return 2;
    if ((a == 'u' || a == 'n') && b == 's') return 2;
    if (n > 2 && (unsigned char)z[0] == 0xC2 && (unsigned char)z[1] == 0xB5 &&
        lower_c((unsigned char)z[2]) == 's')
        return 3;
    if (a == 'y' || a == 'w' || a == 'd' || a == 'h' || a == 'm' || a == 's') return 1;
    return 0;
}

/* Length of -?([0-9]+ unit)+ at z (z[0] a digit or '-'), or 0. */
static size_t unit_duration_len(const char *z, size_t n)
{
    size_t i = z[0] == '-' ? 1 : 0, end = 0;
    for (;;) {
        size_t j = i;
        while (j < n && is_digit((unsigned char)z[j]))
            j++;
        if (j == i) break;
        size_t u = unit_len(z + j, n - j);
        if (!u) break;
        i = end = j + u;
    }
    return end;
}

/* Reads [nX][nY][nZ] for the designators des (in order) from z[i]; returns
 * the end; sets *any when one was read. */
static size_t designators(const char *z, size_t n, size_t i, const char *des, bool *any)
{
    size_t end = i;
    int d = 0;
    for (;;) {
        size_t j = end;
        while (j < n && is_digit((unsigned char)z[j]))
            j++;
        if (j == end || j >= n) break;
        int k = d;
        while (k < 3 && des[k] != z[j])
            k++;
        if (k == 3) break;
        d = k + 1;
        end = j + 1;
        *any = true;
    }
    return end;
}

/* Length of an ISO 8601 duration at z (z[0] is 'P', or '-' then 'P'), or 0. */
static size_t iso_duration_len(const char *z, size_t n)
{
    size_t i = z[0] == '-' ? 2 : 1, j;
    /* alternative format Pyyyy-mm-ddThh:mm:ss */
    static const char shape[] = "0000-00-00T00:00:00";
    for (j = 0; shape[j] && i + j < n; j++)
        if (shape[j] == '0' ? !is_digit((unsigned char)z[i + j]) : z[i + j] != shape[j]) break;
    if (!shape[j]) return i + j;
    /* PnW */
    for (j = i; j < n && is_digit((unsigned char)z[j]); j++) {
    }
    if (j > i && j < n && z[j] == 'W') return j + 1;
    /* P[nY][nM][nD][T[nH][nM][nS]] */
    bool any = false;
    size_t end = designators(z, n, i, "YMD", &any);
    if (end < n && z[end] == 'T') end = designators(z, n, end + 1, "HMS", &any);
    return any ? end : 0;
}

/* Cassandra's lexer decides between its number rules and UUID with a DFA
 * that follows every rule still possible, a character at a time, and never
 * goes back: when only one is left it commits to it (so 12345678-1 is a
 * broken UUID, not 12345678 minus 1), and when the next character fits none
 * it ends the token only where one of them could end (1e) fits none).
 * uuid_step and num_step are those two rules as state machines. */
enum { NUM_INT, NUM_DOT, NUM_E, NUM_SIGN, NUM_EXP, NUM_DEAD };

static bool uuid_dash_at(int k)
{
    return k == 8 || k == 13 || k == 18 || k == 23;
}
#define UUID_CHARS 36

/* The UUID rule after k characters, on ch (-1: end of input): k + 1, or -1. */
static int uuid_step(int k, int ch)
{
    if (k < 0 || k >= UUID_CHARS || ch < 0) return -1;
    return (uuid_dash_at(k) ? ch == '-' : is_hex(ch)) ? k + 1 : -1;
}

/* -?DIGIT+ ('.' DIGIT*)? (E ('+'|'-')? DIGIT+)? in state st, on ch (next:
 * the character after it, for "1..2", a range). */
static int num_step(int st, int ch, int next)
{
    bool digit = ch >= 0 && is_digit(ch), e = ch == 'e' || ch == 'E';
    switch (st) {
    case NUM_INT:
        if (digit) return NUM_INT;
        if (ch == '.' && next != '.') return NUM_DOT;
        return e ? NUM_E : NUM_DEAD;
    case NUM_DOT:
        if (digit) return NUM_DOT;
        return e ? NUM_E : NUM_DEAD;
    case NUM_E:
        if (digit) return NUM_EXP;
        return ch == '+' || ch == '-' ? NUM_SIGN : NUM_DEAD;
    case NUM_SIGN:
    case NUM_EXP:
        return digit ? NUM_EXP : NUM_DEAD;
    default:
        return NUM_DEAD;
    }
}

/* Reads what starts with a digit, or '-' and a digit (not a duration). */
static int number_or_uuid(const char *z, size_t n, int *len, cqlp_lex_error *why)
{
    size_t i = z[0] == '-' ? 2 : 1; /* z[i - 1] is a digit */
    /* the common case: digits that nothing but an integer continues */
    size_t d = i;
    while (d < n && is_digit((unsigned char)z[d]))
        d++;
    if (d >= n || !(is_ident((unsigned char)z[d]) || z[d] == '.' || z[d] == '-')) {
        *len = (int)d;
        return TK_INTEGER;
    }
    int num = NUM_INT, uuid = z[0] == '-' ? -1 : 1;
    for (;; i++) {
        int ch = i < n ? (unsigned char)z[i] : -1, next = i + 1 < n ? (unsigned char)z[i + 1] : -1;
        int num2 = num == NUM_DEAD ? NUM_DEAD : num_step(num, ch, next);
        int uuid2 = uuid_step(uuid, ch);
        if (num2 != NUM_DEAD || uuid2 >= 0) {
            num = num2;
            uuid = uuid2;
            continue;
        }
        /* nothing takes z[i]: end the token where a rule may end */
        *len = (int)i;
        if (uuid == UUID_CHARS) return TK_UUID;
        if (num == NUM_INT) return TK_INTEGER;
        if (num == NUM_DOT || num == NUM_EXP) return TK_FLOAT;
        if (num != NUM_DEAD && uuid >= 0)
            *why = CQLP_LEX_BAD_CHAR; /* both were possible: no viable alternative */
        else if (num != NUM_DEAD)
            *why = CQLP_LEX_EARLY_EXIT; /* the exponent's digits */
        else
            *why = uuid_dash_at(uuid) ? CQLP_LEX_EXPECT_DASH : CQLP_LEX_MISMATCH_SET;
        return CQLP_TK_ILLEGAL;
    }
}

/* Scans a string or name closed by q, where qq stands for q itself.
 * Returns the length including both quotes, or -1 if unterminated;
 * *nul is set to the offset of a NUL byte if one comes first. */
static long quoted_len(const char *z, size_t n, char q, size_t *nul)
{
    for (size_t i = 1; i < n; i++) {
        if (z[i] == 0) {
            *nul = i;
            return -2;
        }
        if (z[i] == q) {
            if (i + 1 < n && z[i + 1] == q) {
                i++;
                continue;
            }
            return (long)(i + 1);
        }
    }
    return -1;
}

int cqlp_get_token(const char *z, size_t n, int *len, cqlp_lex_error *why)
{
    int c = (unsigned char)z[0];
    size_t i;

    *why = CQLP_LEX_BAD_CHAR;
    switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        for (i = 1; i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r'); i++) {
        }
        *len = (int)i;
        return CQLP_TK_SPACE;
    case '-':
        if (n > 1 && z[1] == '-') goto line_comment;
        if (n > 1 && is_digit((unsigned char)z[1])) {
            size_t dl = unit_duration_len(z, n);
            if (dl) {
                *len = (int)dl;
                return TK_DURATION;
            }
            return number_or_uuid(z, n, len, why);
        }
        if (n > 1 && z[1] == 'P') {
            size_t dl = iso_duration_len(z, n);
            if (dl && dl >= word_len(z + 1, n - 1) + 1) {
                *len = (int)dl;
                return TK_DURATION;
            }
        }
        if (n > 1 && is_alpha((unsigned char)z[1])) {
            /* -NaN and -Infinity are single tokens in Cassandra */
            size_t w = word_len(z + 1, n - 1);
            if (word_cmp(z + 1, (int)w, "nan") == 0 || word_cmp(z + 1, (int)w, "infinity") == 0) {
                *len = (int)(w + 1);
                return TK_FLOAT;
            }
            /* Cassandra's lexer commits to them on -i / -n: "-i," fails at
               the ',' ("mismatched character ',' expecting set null") */
            int c1 = z[1] | 0x20;
            if (c1 == 'i' || c1 == 'n') {
                const char *word = c1 == 'i' ? "infinity" : "nan";
                size_t k = 0;
                while (word[k] && 1 + k < n && (z[1 + k] | 0x20) == word[k])
                    k++;
                if (word[k]) {
                    *len = (int)(1 + k);
                    *why = CQLP_LEX_MISMATCH_SET;
                    return CQLP_TK_ILLEGAL;
                }
            }
        }
        *len = 1;
        return TK_MINUS;
    case '/':
        if (n > 1 && z[1] == '/') goto line_comment;
        if (n > 1 && z[1] == '*') {
            for (i = 2; i + 1 < n; i++) {
                if (z[i] == 0) break;
                if (z[i] == '*' && z[i + 1] == '/') {
                    *len = (int)(i + 2);
                    return CQLP_TK_SPACE;
                }
            }
            if (i + 1 < n || (i < n && z[i] == 0)) { /* stopped on a NUL */
                *len = (int)i;
                return CQLP_TK_ILLEGAL;
            }
            *len = (int)n;
            *why = CQLP_LEX_OPEN_COMMENT;
            return CQLP_TK_ILLEGAL;
        }
        *len = 1;
        return TK_SLASH;
    case '(':
        *len = 1;
        return TK_LP;
    case ')':
        *len = 1;
        return TK_RP;
    case '{':
        *len = 1;
        return TK_LBRACE;
    case '}':
        *len = 1;
        return TK_RBRACE;
    case '[':
        *len = 1;
        return TK_LBRACKET;
    case ']':
        *len = 1;
        return TK_RBRACKET;
    case ',':
        *len = 1;
        return TK_COMMA;
    case ';':
        *len = 1;
        return TK_SEMI;
    case '*':
        *len = 1;
        return TK_STAR;
    case '+':
        *len = 1;
        return TK_PLUS;
    case '%':
        *len = 1;
        return TK_PERCENT;
    case '?':
        *len = 1;
        return TK_QMARK;
    case ':':
        *len = 1;
        return TK_COLON;
    case '.':
        *len = 1;
        return TK_DOT;
    case '=':
        *len = 1;
        return TK_EQ;
    case '<':
        if (n > 1 && z[1] == '=') {
            *len = 2;
            return TK_LE;
        }
        *len = 1;
        return TK_LT;
    case '>':
        /* never ">>": list<frozen<list<int>>> closes three times */
        if (n > 1 && z[1] == '=') {
            *len = 2;
            return TK_GE;
        }
        *len = 1;
        return TK_GT;
    case '!':
        if (n > 1 && z[1] == '=') {
            *len = 2;
            return TK_NE;
        }
        *len = 0;
        return CQLP_TK_ILLEGAL;
    case '\'':
    case '"': {
        size_t nul = 0;
        long l = quoted_len(z, n, (char)c, &nul);
        if (l == -2) {
            *len = (int)nul;
            return CQLP_TK_ILLEGAL;
        }
        if (l < 0) {
            *len = (int)n;
            *why = c == '\'' ? CQLP_LEX_OPEN_STRING : CQLP_LEX_OPEN_QUOTED;
            return CQLP_TK_ILLEGAL;
        }
        *len = (int)l;
        if (c == '\'') return TK_STRING;
        return l == 2 ? TK_EMPTY_QUOTED : TK_QUOTED;
    }
    case '$':
        if (n > 1 && z[1] == '$') {
            for (i = 2; i + 1 < n; i++) {
                if (z[i] == 0) break;
                if (z[i] == '$' && z[i + 1] == '$') {
                    *len = (int)(i + 2);
                    return TK_STRING;
                }
            }
            if (i + 1 < n || (i < n && z[i] == 0)) {
                *len = (int)i;
                return CQLP_TK_ILLEGAL;
            }
            *len = (int)n;
            *why = CQLP_LEX_OPEN_DOLLAR;
            return CQLP_TK_ILLEGAL;
        }
        *len = 0;
        return CQLP_TK_ILLEGAL;
    default:
        break;
    }

    if (is_hex(c)) {
        int ul = uuid_len(z, n);
        if (ul > 0) {
            *len = ul;
            return TK_UUID;
        }
        /* eight hex letters and digits then '-': only a UUID goes on so */
        if (is_alpha(c) && n > 8 && z[8] == '-') {
            int k = 0;
            while ((size_t)k < n && k < 9 && uuid_step(k, (unsigned char)z[k]) == k + 1)
                k++;
            if (k == 9) {
                while (uuid_step(k, (size_t)k < n ? (unsigned char)z[k] : -1) == k + 1)
                    k++;
                *len = k;
                *why = uuid_dash_at(k) ? CQLP_LEX_EXPECT_DASH : CQLP_LEX_MISMATCH_SET;
                return CQLP_TK_ILLEGAL;
            }
        }
    }
    if (c == '0' && n > 1 && (z[1] == 'x' || z[1] == 'X')) {
        for (i = 2; i < n && is_hex((unsigned char)z[i]); i++) {
        }
        *len = (int)i;
        return TK_HEX;
    }
    if (is_digit(c)) {
        size_t dl = unit_duration_len(z, n);
        if (dl) {
            *len = (int)dl;
            return TK_DURATION;
        }
        return number_or_uuid(z, n, len, why);
    }
    if (c == 'P') {
        size_t dl = iso_duration_len(z, n);
        if (dl && dl >= word_len(z, n)) {
            *len = (int)dl;
            return TK_DURATION;
        }
    }
    if (is_alpha(c)) {
        size_t w = word_len(z, n);
        *len = (int)w;
        return keyword_code(z, (int)w);
    }
    *len = 0;
    return CQLP_TK_ILLEGAL;

line_comment:
    for (i = 2; i < n && z[i] != '\n' && z[i] != '\r'; i++) {
        if (z[i] == 0) {
            *len = (int)i;
            return CQLP_TK_ILLEGAL;
        }
    }
    *len = (int)i;
    return CQLP_TK_SPACE;
}
