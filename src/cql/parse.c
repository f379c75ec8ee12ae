/*
 * parse.c — cql_parse(): runs the lexer and the lemon parser over one
 * statement, and words syntax errors the way Cassandra does.
 *
 * What: the statement is first split into tokens (lexer.c) held in an arena
 * array; a few contextual keywords are re-tagged; the tokens are pushed
 * through the generated parser (grammar.y), whose actions call the node
 * constructors below; the bind-marker names are gathered into the statement.
 *
 * Why tokens first: Cassandra decides whether `json`/`distinct` after
 * SELECT are flags or column names by looking ahead, which a push parser
 * cannot do; with the tokens in hand it is one look at the next token. It
 * also lets error messages quote the statement around the offending token.
 *
 * Error messages follow Cassandra 5.0 (ANTLR 3 with its ErrorCollector):
 *   "line L:C no viable alternative at input 'X' (...snippet...)"
 *   "line L:C mismatched input 'X' expecting EOF (...)" when the statement
 *       was complete (or "expecting K_FROM" etc. when exactly one token fits)
 *   "line 0:-1 no viable alternative at input '<EOF>'" when the text ends
 *       too soon (Cassandra's EOF token has no position)
 *   "line L:C no viable alternative at character '@'" and
 *   "line L:C mismatched character '<EOF>' expecting '''" from the lexer.
 * L is 1-based, C is 0-based and counts UTF-16 units as Java does. The
 * snippet is ANTLR's token stream around where the parser stood: ten
 * tokens (white space counts) before to two after, no further than it had
 * read; the bracketed token is where the failed decision started, which
 * may be before the token the message names (antlr_error works out which
 * from the parser's tables, as the LR parser finds errors later than
 * ANTLR's look-ahead does).
 *
 * Invariants:
 *  1. On failure *out is NULL and err->code is the returned code: HLN_ESYNTAX,
 *     HLN_ENOMEM, or HLN_EINVAL/HLN_EUNSUPPORTED for the few semantic errors
 *     Cassandra itself raises while parsing (a second PRIMARY KEY) or that we
 *     cannot represent yet (IN with several values).
 *  2. Nothing is allocated outside the caller's arena; a longjmp from an
 *     action (cqlp_alloc/cqlp_fail) leaks nothing.
 *  3. Bind markers are numbered 0..n-1 in order of appearance and
 *     stmt->bind_names has n entries (NULL where positional).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "cql/cqlInt.h"
#include "grammar.h"

/* ---- constructors called from grammar actions ------------------------ */

void *cqlp_alloc(cqlp_ctx *ctx, size_t n)
{
    void *p = hln_arena_alloc(ctx->arena, n);
    if (!p) {
        hln_fail(ctx->err, HLN_ENOMEM, "out of memory while parsing");
        ctx->jump_code = HLN_ENOMEM;
        longjmp(ctx->jb, 1);
    }
    return p;
}

_Noreturn void cqlp_fail(cqlp_ctx *ctx, int code, const char *fmt, ...)
{
    char msg[sizeof(ctx->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hln_fail(ctx->err, code, "%s", msg);
    ctx->jump_code = code;
    longjmp(ctx->jb, 1);
}

static char *copy(cqlp_ctx *ctx, const char *z, size_t n)
{
    char *s = cqlp_alloc(ctx, n + 1);
    memcpy(s, z, n);
    return s;
}

cql_stmt *cqlp_stmt(cqlp_ctx *ctx, cql_stmt_kind kind)
{
    cql_stmt *s = cqlp_alloc(ctx, sizeof(*s));
    s->kind = kind;
    ctx->stmt = s;
    return s;
}

const char *cqlp_text(cqlp_ctx *ctx, const cql_token *t)
{
    return copy(ctx, t->z, (size_t)t->n);
}

const char *cqlp_ident(cqlp_ctx *ctx, const cql_token *t)
{
    char *s = copy(ctx, t->z, (size_t)t->n);
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + ('a' - 'A'));
    return s;
}

/* Removes the quote characters q around z[0..n) and halves doubled ones. */
static char *unquote(cqlp_ctx *ctx, const char *z, size_t n, char q)
{
    char *s = cqlp_alloc(ctx, n + 1);
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        s[o++] = z[i];
        if (z[i] == q) i++; /* the lexer guarantees it is doubled */
    }
    s[o] = 0;
    return s;
}

const char *cqlp_quoted(cqlp_ctx *ctx, const cql_token *t)
{
    return unquote(ctx, t->z, (size_t)t->n, '"');
}

/* The text of a string token without its quotes or dollars. */
static char *string_value(cqlp_ctx *ctx, const cql_token *t)
{
    if (t->z[0] == '$') return copy(ctx, t->z + 2, (size_t)t->n - 4);
    return unquote(ctx, t->z, (size_t)t->n, '\'');
}

cql_term *cqlp_literal(cqlp_ctx *ctx, hln_lit_kind kind, const cql_token *t)
{
    cql_term *x = cqlp_alloc(ctx, sizeof(*x));
    x->kind = CQL_TERM_LITERAL;
    x->lit = kind;
    x->pos = t->pos;
    switch (kind) {
    case HLN_LIT_STRING:
        x->text = string_value(ctx, t);
        break;
    case HLN_LIT_BOOL:
        x->text = cqlp_ident(ctx, t);
        break;
    case HLN_LIT_FLOAT: {
        /* NaN, -NaN, Infinity, -Infinity: any case in, Java's spelling out */
        const char *z = t->z;
        bool neg = z[0] == '-';
        if ((z[neg] | 0x20) == 'n')
            x->text = "NaN";
        else if ((z[neg] | 0x20) == 'i')
            x->text = neg ? "-Infinity" : "Infinity";
        else
            x->text = cqlp_text(ctx, t);
        /* Cassandra's parser turns a float literal into a BigDecimal via a
           double: one beyond the double range fails the whole statement */
        if (x->text[0] != 'N' && x->text[neg] != 'I' && isinf(strtod(x->text, NULL)))
            cqlp_fail(ctx, HLN_ESYNTAX,
                      "Failed parsing statement: [%.*s] reason: NumberFormatException Character I "
                      "is neither a decimal digit number, decimal point, nor \"e\" notation "
                      "exponential mark.",
                      (int)ctx->srclen, ctx->src);
        break;
    }
    default:
        x->text = cqlp_text(ctx, t);
        break;
    }
    return x;
}

cql_term *cqlp_null(cqlp_ctx *ctx, const cql_token *t)
{
    cql_term *x = cqlp_alloc(ctx, sizeof(*x));
    x->kind = CQL_TERM_NULL;
    x->pos = t->pos;
    return x;
}

cql_term *cqlp_bind(cqlp_ctx *ctx, const cql_token *t, const char *name)
{
    cql_term *x = cqlp_alloc(ctx, sizeof(*x));
    cqlp_bind_name *b = cqlp_alloc(ctx, sizeof(*b));
    x->kind = CQL_TERM_BIND;
    x->pos = t->pos;
    x->bind_index = ctx->n_binds++;
    x->bind_name = name;
    b->name = name;
    if (ctx->binds_tail)
        ctx->binds_tail->next = b;
    else
        ctx->binds_head = b;
    ctx->binds_tail = b;
    return x;
}

cql_name_list *cqlp_name(cqlp_ctx *ctx, const char *name)
{
    cql_name_list *n = cqlp_alloc(ctx, sizeof(*n));
    n->name = name;
    return n;
}

static void type_text(const cql_typeref *t, hln_buf *b)
{
    if (t->frozen) hln_buf_printf(b, "frozen<");
    hln_buf_printf(b, "%s", t->name);
    if (t->nparams) {
        hln_buf_u8(b, '<');
        for (int i = 0; i < t->nparams; i++) {
            if (i) hln_buf_put(b, ", ", 2);
            type_text(t->params[i], b);
        }
        hln_buf_u8(b, '>');
    }
    if (t->frozen) hln_buf_u8(b, '>');
}

const char *cqlp_type_text(cqlp_ctx *ctx, const cql_typeref *t)
{
    hln_buf b;
    hln_buf_init(&b);
    type_text(t, &b);
    hln_buf_u8(&b, 0);
    char *s = b.err ? NULL : cqlp_alloc(ctx, b.len);
    if (s) memcpy(s, b.data, b.len);
    hln_buf_free(&b);
    if (!s) cqlp_fail(ctx, HLN_ENOMEM, "out of memory");
    return s;
}

cql_typeref *cqlp_type(cqlp_ctx *ctx, const char *name, const cqlp_types *params)
{
    cql_typeref *t = cqlp_alloc(ctx, sizeof(*t));
    t->name = name;
    if (params && params->n > 0) {
        int i = 0;
        t->params = cqlp_alloc(ctx, sizeof(*t->params) * (size_t)params->n);
        for (cqlp_type_node *p = params->head; p; p = p->next)
            t->params[i++] = p->type;
        t->nparams = params->n;
    }
    return t;
}

void cqlp_types_add(cqlp_ctx *ctx, cqlp_types *list, cql_typeref *t)
{
    cqlp_type_node *n = cqlp_alloc(ctx, sizeof(*n));
    n->type = t;
    CQLP_APPEND(*list, n);
    list->n++;
}

void cqlp_terms_add(cqlp_ctx *ctx, cqlp_terms *list, cql_term *t)
{
    cqlp_term_node *n = cqlp_alloc(ctx, sizeof(*n));
    n->term = t;
    CQLP_APPEND(*list, n);
    list->n++;
}

cql_term *cqlp_collection(cqlp_ctx *ctx, cql_term_kind kind, const cqlp_terms *list,
                          const cql_token *open, const cql_token *close)
{
    cql_term *x = cqlp_alloc(ctx, sizeof(*x));
    x->kind = kind;
    x->pos = open->pos;
    x->end = close->pos + close->n;
    if (list) {
        x->elems = cqlp_terms_array(ctx, list);
        x->nelems = list->n;
    }
    return x;
}

cql_term **cqlp_terms_array(cqlp_ctx *ctx, const cqlp_terms *list)
{
    cql_term **a = cqlp_alloc(ctx, sizeof(*a) * (size_t)(list->n > 0 ? list->n : 1));
    int i = 0;
    for (cqlp_term_node *n = list->head; n; n = n->next)
        a[i++] = n->term;
    return a;
}

cql_term *cqlp_binop(cqlp_ctx *ctx, char op, cql_term *x, cql_term *y, const cql_token *opt)
{
    cql_term *t = cqlp_alloc(ctx, sizeof(*t));
    t->kind = CQL_TERM_OP;
    t->op = op;
    t->pos = x ? x->pos : opt->pos;
    t->nelems = x ? 2 : 1;
    t->elems = cqlp_alloc(ctx, sizeof(*t->elems) * 2);
    t->elems[0] = x ? x : y;
    if (x) t->elems[1] = y;
    t->end = y->end;
    return t;
}

void cqlp_reject(cqlp_ctx *ctx, const cql_token *t)
{
    if (ctx->syntax_error) return;
    ctx->syntax_error = true;
    ctx->eof_expected = false;
    ctx->n_expected = 0;
    ctx->error_at = true;
    ctx->error_pos = t->pos;
}

void cqlp_reject_from(cqlp_ctx *ctx, int pos, int from)
{
    if (ctx->syntax_error) return;
    ctx->syntax_error = true;
    ctx->eof_expected = false;
    ctx->n_expected = 0;
    ctx->error_at = true;
    ctx->error_pos = pos;
    ctx->error_from = from;
}

void cqlp_reject_expecting(cqlp_ctx *ctx, const cql_token *t, int expected)
{
    if (ctx->syntax_error) return;
    cqlp_reject(ctx, t);
    ctx->n_expected = 1;
    ctx->expected = expected;
    ctx->lookahead_shown = true; /* ANTLR's recovery peeked at the next token */
}

const char *cqlp_cast_type(cqlp_ctx *ctx, const cql_token *t)
{
    static const char *const native[] = {
        "ascii",  "bigint",    "blob",     "boolean", "counter", "date",     "decimal",
        "double", "duration",  "float",    "inet",    "int",     "smallint", "text",
        "time",   "timestamp", "timeuuid", "tinyint", "uuid",    "varchar",  "varint"};
    const char *name = cqlp_ident(ctx, t);
    for (size_t i = 0; i < sizeof native / sizeof native[0]; i++)
        if (!strcmp(native[i], name)) return name;
    cqlp_reject(ctx, t);
    return name;
}

cql_selector *cqlp_selfn(cqlp_ctx *ctx, const char *fn, const char *col, cql_term *elem)
{
    cql_selector *a = cqlp_alloc(ctx, sizeof(*a));
    a->column = col;
    a->elem = elem;
    cql_selector *s = cqlp_alloc(ctx, sizeof(*s));
    s->func = fn;
    s->args = a;
    return s;
}

cql_term *cqlp_hint(cqlp_ctx *ctx, const char *type, cql_term *x, const cql_token *opt)
{
    cql_term *t = cqlp_alloc(ctx, sizeof(*t));
    t->kind = CQL_TERM_HINT;
    t->text = type;
    t->pos = opt->pos;
    t->nelems = 1;
    t->elems = cqlp_alloc(ctx, sizeof(*t->elems));
    t->elems[0] = x;
    t->end = x->end;
    return t;
}

cql_selector *cqlp_selop(cqlp_ctx *ctx, char op, cql_selector *x, cql_selector *y)
{
    cql_selector *s = cqlp_alloc(ctx, sizeof(*s));
    s->op = op;
    s->args = x;
    x->next = y;
    return s;
}

void cqlp_table_begin(cqlp_ctx *ctx, bool if_not_exists, cql_qname name)
{
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_TABLE);
    ctx->ct = &s->u.create_table;
    ctx->ct->name = name;
    ctx->ct->if_not_exists = if_not_exists;
}

/* Cassandra rejects a second PRIMARY KEY while parsing, with this wording. */
static void pk_declared(cqlp_ctx *ctx)
{
    if (++ctx->pk_decls > 1) {
        const cql_qname *n = &ctx->ct->name;
        cqlp_fail(ctx, HLN_EINVAL,
                  "Multiple PRIMARY KEY specified for table '%s%s%s' (exactly one required)",
                  n->ks ? n->ks : "", n->ks ? "." : "", n->name);
    }
}

void cqlp_table_column(cqlp_ctx *ctx, const char *name, cql_typeref *type, bool is_static, bool pk)
{
    cql_column_def *c = cqlp_alloc(ctx, sizeof(*c));
    c->name = name;
    c->type = type;
    c->is_static = is_static;
    c->primary_key = pk;
    if (ctx->col_tail)
        ctx->col_tail->next = c;
    else
        ctx->ct->columns = c;
    ctx->col_tail = c;
    if (pk) pk_declared(ctx);
}

void cqlp_table_pk(cqlp_ctx *ctx, cql_name_list *pk, cql_name_list *ck)
{
    pk_declared(ctx);
    ctx->ct->pk = pk;
    ctx->ct->ck = ck;
}

void cqlp_table_order(cqlp_ctx *ctx, const char *column, bool desc)
{
    cql_order *o = cqlp_alloc(ctx, sizeof(*o));
    o->column = column;
    o->desc = desc;
    if (ctx->corder_tail)
        ctx->corder_tail->next = o;
    else
        ctx->ct->clustering_order = o;
    ctx->corder_tail = o;
}

void cqlp_table_prop(cqlp_ctx *ctx, cql_property *p)
{
    if (ctx->tprop_tail)
        ctx->tprop_tail->next = p;
    else
        ctx->ct->props = p;
    ctx->tprop_tail = p;
}

/* ---- error messages -------------------------------------------------- */

/* A bounded string builder: appends are cut at the capacity. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *z, size_t n)
{
    if (b->len + 1 >= b->cap) return;
    if (n > b->cap - 1 - b->len) n = b->cap - 1 - b->len;
    memcpy(b->p + b->len, z, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Java's line (1-based) and column (0-based, UTF-16 units) of byte pos. */
static void line_col(const char *src, int pos, int *line, int *col)
{
    int l = 1, c = 0;
    for (int i = 0; i < pos; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == '\n') {
            l++;
            c = 0;
        } else if ((ch & 0xC0) != 0x80) {
            c += ch >= 0xF0 ? 2 : 1; /* 4-byte UTF-8 is a surrogate pair */
        }
    }
    *line = l;
    *col = c;
}

/* Appends text as ANTLR displays it: control characters escaped, and at
 * most max bytes (cut on a character boundary). */
static void put_display(sbuf *b, const char *z, size_t n, size_t max)
{
    bool cut = false;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)z[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        switch (z[i]) {
        case '\n':
            sb_str(b, "\\n");
            break;
        case '\r':
            sb_str(b, "\\r");
            break;
        case '\t':
            sb_str(b, "\\t");
            break;
        default:
            sb_put(b, z + i, 1);
        }
    }
    if (cut) sb_str(b, "...");
}

/* A token as ANTLR shows it: strings and quoted names by their value. */
static void put_token(sbuf *b, const cql_token *t)
{
    const char *z = t->z;
    size_t n = (size_t)t->n;
    if ((t->type == TK_STRING || t->type == TK_QUOTED) && n >= 2) {
        if (z[0] == '$') {
            z += 2;
            n -= 4;
        } else {
            /* the value: a doubled quote stands for one */
            char q = z[0], v[128];
            size_t o = 0;
            for (size_t k = 1; k + 1 < n && o < sizeof(v); k++) {
                v[o++] = z[k];
                if (z[k] == q) k++;
            }
            put_display(b, v, o, 100);
            return;
        }
    }
    put_display(b, z, n, 100);
}

/* ANTLR's name for a token, for "expecting ..." messages. */
static const char *token_name(int t)
{
    switch (t) {
    case TK_ID:
        return "IDENT";
    case TK_QUOTED:
        return "QUOTED_NAME";
    case TK_STRING:
        return "STRING_LITERAL";
    case TK_INTEGER:
        return "INTEGER";
    case TK_FLOAT:
        return "FLOAT";
    case TK_BOOL:
        return "BOOLEAN";
    case TK_UUID:
        return "UUID";
    case TK_HEX:
        return "HEXNUMBER";
    case TK_DURATION:
        return "DURATION";
    case TK_QMARK:
        return "QMARK";
    case TK_COLON:
        return "':'";
    case TK_LP:
        return "'('";
    case TK_RP:
        return "')'";
    case TK_COMMA:
        return "','";
    case TK_DOT:
        return "'.'";
    case TK_SEMI:
        return "';'";
    case TK_STAR:
        return "'*'";
    case TK_EQ:
        return "'='";
    case TK_LT:
        return "'<'";
    case TK_LE:
        return "'<='";
    case TK_GT:
        return "'>'";
    case TK_GE:
        return "'>='";
    case TK_NE:
        return "'!='";
    case TK_LBRACE:
        return "'{'";
    case TK_LBRACKET:
        return "'['";
    case TK_RBRACKET:
        return "']'";
    case TK_PLUS:
        return "'+'";
    case TK_MINUS:
        return "'-'";
    case TK_SLASH:
        return "'/'";
    case TK_PERCENT:
        return "'%'";
    case TK_RBRACE:
        return "'}'";
    case TK_ALLOW:
        return "K_ALLOW";
    case TK_AND:
        return "K_AND";
    case TK_APPLY:
        return "K_APPLY";
    case TK_AS:
        return "K_AS";
    case TK_ASC:
        return "K_ASC";
    case TK_BATCH:
        return "K_BATCH";
    case TK_BEGIN:
        return "K_BEGIN";
    case TK_BY:
        return "K_BY";
    case TK_CLUSTERING:
        return "K_CLUSTERING";
    case TK_COMPACT:
        return "K_COMPACT";
    case TK_CREATE:
        return "K_CREATE";
    case TK_DELETE:
        return "K_DELETE";
    case TK_DESC:
        return "K_DESC";
    case TK_DISTINCT:
        return "K_DISTINCT";
    case TK_DROP:
        return "K_DROP";
    case TK_EXISTS:
        return "K_EXISTS";
    case TK_FILTERING:
        return "K_FILTERING";
    case TK_FROM:
        return "K_FROM";
    case TK_FROZEN:
        return "K_FROZEN";
    case TK_IF:
        return "K_IF";
    case TK_IN:
        return "K_IN";
    case TK_INSERT:
        return "K_INSERT";
    case TK_INTO:
        return "K_INTO";
    case TK_JSON:
        return "K_JSON";
    case TK_KEY:
        return "K_KEY";
    case TK_KEYSPACE:
        return "K_KEYSPACE";
    case TK_LIMIT:
        return "K_LIMIT";
    case TK_NOT:
        return "K_NOT";
    case TK_NULL:
        return "K_NULL";
    case TK_ORDER:
        return "K_ORDER";
    case TK_PARTITION:
        return "K_PARTITION";
    case TK_PER:
        return "K_PER";
    case TK_PRIMARY:
        return "K_PRIMARY";
    case TK_SELECT:
        return "K_SELECT";
    case TK_SET:
        return "K_SET";
    case TK_STATIC:
        return "K_STATIC";
    case TK_STORAGE:
        return "K_STORAGE";
    case TK_TABLE:
        return "K_COLUMNFAMILY";
    case TK_TIMESTAMP:
        return "K_TIMESTAMP";
    case TK_TOKEN:
        return "K_TOKEN";
    case TK_TTL:
        return "K_TTL";
    case TK_UNLOGGED:
        return "K_UNLOGGED";
    case TK_UPDATE:
        return "K_UPDATE";
    case TK_USE:
        return "K_USE";
    case TK_USING:
        return "K_USING";
    case TK_VALUES:
        return "K_VALUES";
    case TK_WHERE:
        return "K_WHERE";
    case TK_WITH:
        return "K_WITH";
    case TK_WRITETIME:
        return "K_WRITETIME";
    case TK_MAXWRITETIME:
        return "K_MAXWRITETIME";
    case TK_CONTAINS:
        return "K_CONTAINS";
    case TK_GROUP:
        return "K_GROUP";
    case TK_DEFAULT:
        return "K_DEFAULT";
    case TK_CAST:
        return "K_CAST";
    case TK_ALL:
        return "K_ALL";
    case TK_KEYSPACES:
        return "K_KEYSPACES";
    case TK_ROLE:
        return "K_ROLE";
    case TK_ROLES:
        return "K_ROLES";
    case TK_USER:
        return "K_USER";
    case TK_USERS:
        return "K_USERS";
    case TK_LOGIN:
        return "K_LOGIN";
    case TK_PASSWORD:
        return "K_PASSWORD";
    case TK_HASHED:
        return "K_HASHED";
    case TK_SUPERUSER:
        return "K_SUPERUSER";
    case TK_NOSUPERUSER:
        return "K_NOSUPERUSER";
    case TK_OPTIONS:
        return "K_OPTIONS";
    case TK_PERMISSION:
        return "K_PERMISSION";
    case TK_PERMISSIONS:
        return "K_PERMISSIONS";
    case TK_LIST:
        return "K_LIST";
    case TK_UNMASK:
        return "K_UNMASK";
    case TK_SELECT_MASKED:
        return "K_SELECT_MASKED";
    case TK_CLUSTER:
        return "K_CLUSTER";
    case TK_TABLES:
        return "K_TABLES";
    case TK_ANN:
        return "K_ANN";
    case TK_CUSTOM:
        return "K_CUSTOM";
    case TK_KEYS:
        return "K_KEYS";
    case TK_IS:
        return "K_IS";
    case TK_OF:
        return "K_OF";
    case TK_ALTER:
        return "K_ALTER";
    case TK_NORECURSIVE:
        return "K_NORECURSIVE";
    case TK_MODIFY:
        return "K_MODIFY";
    case TK_AUTHORIZE:
        return "K_AUTHORIZE";
    case TK_DESCRIBE:
        return "K_DESCRIBE";
    case TK_EXECUTE:
        return "K_EXECUTE";
    case TK_GRANT:
        return "K_GRANT";
    case TK_ON:
        return "K_ON";
    case TK_TO:
        return "K_TO";
    case TK_REVOKE:
        return "K_REVOKE";
    case TK_FULL:
        return "K_FULL";
    case TK_INDEX:
        return "K_INDEX";
    case TK_MATERIALIZED:
        return "K_MATERIALIZED";
    case TK_VIEW:
        return "K_VIEW";
    case TK_ADD:
        return "K_ADD";
    case TK_RENAME:
        return "K_RENAME";
    case TK_TRUNCATE:
        return "K_TRUNCATE";
    case TK_ENTRIES:
        return "K_ENTRIES";
    case TK_TTLFN:
        return "K_TTL";
    case TK_EMPTY_QUOTED:
        return "EMPTY_QUOTED_NAME";
    default:
        return NULL;
    }
}

/* The length of toks[k]'s text as ANTLR keeps it, in bytes of the source
 * from its start: a string or quoted name's lexer rule replaces its text by
 * the unquoted value, so it counts that many characters (UTF-16 units)
 * from the opening quote. */
static int antlr_text_bytes(const cqlp_ctx *ctx, const cql_token *t)
{
    if (!((t->type == TK_STRING || t->type == TK_QUOTED) && t->n >= 2)) return t->n;
    const char *z = t->z;
    int n = t->n, units = 0;
    if (z[0] == '$') {
        z += 2;
        n -= 4;
    } else {
        z++;
        n -= 2;
    }
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)z[i];
        if ((ch & 0xC0) == 0x80) continue;
        units += ch >= 0xF0 ? 2 : 1;
        if ((ch == '\'' || ch == '"') && i + 1 < n && (unsigned char)z[i + 1] == ch) i++;
    }
    /* that many units from the token's start, within the source */
    int p = t->pos, left = units;
    while (left > 0 && (size_t)p < ctx->srclen) {
        unsigned char ch = (unsigned char)ctx->src[p];
        int w = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
        left -= ch >= 0xF0 ? 2 : 1;
        p += w;
    }
    if ((size_t)p > ctx->srclen) p = (int)ctx->srclen;
    return p - t->pos;
}

/* Where the line holding byte pos ends. */
static int line_end(const cqlp_ctx *ctx, int pos)
{
    while ((size_t)pos < ctx->srclen && ctx->src[pos] != '\n')
        pos++;
    return pos;
}

/* Appends " (...text [tok]...)", ANTLR's ErrorCollector snippet. ANTLR
 * takes it from its token stream, where hidden white space and comments are
 * tokens too: from ten tokens before the stream's position (toks[idx], the
 * token the failed decision started at) to two after it, but no further than
 * the tokens the parser has fetched (through toks[fetched]); none at all when
 * that last token is the end of input (Cassandra's EOF token has no
 * position). The bracketed token and the last one count their ANTLR text. */
static void put_snippet(sbuf *b, const cqlp_ctx *ctx, const cql_token *toks, int ntok, int idx,
                        int fetched)
{
    const char *src = ctx->src;
    if (idx >= ntok) return;
    int from = toks[idx].pos, j = idx, k = 10;
    while (k > 0) {
        int prev_end = j > 0 ? toks[j - 1].pos + toks[j - 1].n : 0;
        if (toks[j].pos > prev_end) { /* a hidden token precedes toks[j] */
            from = prev_end;
            if (--k == 0) break;
        }
        if (j == 0) break;
        j--;
        from = toks[j].pos;
        k--;
    }
    /* two stream tokens on (a gap between tokens is one hidden token), as
       far as fetched: the gap before toks[k] comes in with it */
    int to = idx;
    bool to_hidden = false; /* the gap after toks[to] */
    for (int step = 0; step < 2; step++) {
        if (to + 1 > fetched) break;
        int next_pos = to + 1 < ntok ? toks[to + 1].pos : (int)ctx->srclen;
        if (!to_hidden && next_pos > toks[to].pos + toks[to].n) {
            to_hidden = true;
            continue;
        }
        if (to + 1 >= ntok) return; /* the EOF token: no snippet */
        to++;
        to_hidden = false;
    }
    int end;
    if (to_hidden) {
        end = to + 1 < ntok ? toks[to + 1].pos : (int)ctx->srclen;
    } else {
        end = toks[to].pos + antlr_text_bytes(ctx, &toks[to]);
    }
    int le = line_end(ctx, to_hidden ? toks[to].pos + toks[to].n : toks[to].pos);
    if (end > le) end = le;
    bool at_end = true;
    for (size_t p = (size_t)end; p < ctx->srclen; p++)
        if (src[p] != '\n') at_end = false;

    /* keep the snippet readable: at most ~160 bytes before the token */
    bool cut = false;
    if (toks[idx].pos - from > 160) {
        from = toks[idx].pos - 160;
        while (from < toks[idx].pos && ((unsigned char)src[from] & 0xC0) == 0x80)
            from++;
        cut = true;
    }
    int hl_end = toks[idx].pos + antlr_text_bytes(ctx, &toks[idx]);
    sb_str(b, " (");
    if (from > 0 || cut) sb_str(b, "...");
    for (int p = from; p < toks[idx].pos; p++)
        if (src[p] != '\n') sb_put(b, src + p, 1);
    sb_str(b, "[");
    int shown_end = hl_end < end ? hl_end : end;
    put_display(b, toks[idx].z, (size_t)(shown_end - toks[idx].pos), 100);
    sb_str(b, "]");
    for (int p = hl_end; p < end; p++)
        if (src[p] != '\n') sb_put(b, src + p, 1);
    if (!at_end) sb_str(b, "...");
    sb_str(b, ")");
}

/* The message for a parser error on toks[i] (i == ntok: end of input),
 * with the stream position idx, the last token fetched and the token ANTLR
 * would say it expected (-1: none, "no viable alternative"; 0: EOF). */
static int syntax_error(cqlp_ctx *ctx, const cql_token *toks, int ntok, int i, int idx, int fetched,
                        int want_tok)
{
    char msg[sizeof(ctx->err->msg)];
    sbuf b = {msg, 0, sizeof(msg)};
    char head[64];
    bool eof = i >= ntok;
    const char *want = NULL;

    msg[0] = 0;
    if (eof) {
        sb_str(&b, "line 0:-1 ");
    } else {
        int line, col;
        line_col(ctx->src, toks[i].pos, &line, &col);
        snprintf(head, sizeof(head), "line %d:%d ", line, col);
        sb_str(&b, head);
    }
    if (ctx->overflow) {
        sb_str(&b, "statement too deeply nested at input '");
    } else {
        if (want_tok == 0)
            want = "EOF";
        else if (want_tok > 0)
            want = token_name(want_tok);
        sb_str(&b, want ? "mismatched input '" : "no viable alternative at input '");
    }
    if (eof)
        sb_str(&b, "<EOF>");
    else
        put_token(&b, &toks[i]);
    sb_str(&b, "'");
    if (want) {
        sb_str(&b, " expecting ");
        sb_str(&b, want);
    }
    if (!eof) put_snippet(&b, ctx, toks, ntok, idx, fetched);
    return hln_fail(ctx->err, HLN_ESYNTAX, "%s", msg);
}

static int lex_error(cqlp_ctx *ctx, int pos, cqlp_lex_error why)
{
    char msg[160];
    int line, col;
    line_col(ctx->src, pos, &line, &col);
    switch (why) {
    case CQLP_LEX_OPEN_STRING:
        snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting '''");
        break;
    case CQLP_LEX_OPEN_QUOTED:
        snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting '\"'");
        break;
    case CQLP_LEX_OPEN_DOLLAR:
        snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting '$'");
        break;
    case CQLP_LEX_OPEN_COMMENT:
        snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting '*'");
        break;
    case CQLP_LEX_EXPECT_DASH:
        if ((size_t)pos >= ctx->srclen)
            snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting '-'");
        else
            snprintf(msg, sizeof(msg), "mismatched character '%c' expecting '-'", ctx->src[pos]);
        break;
    case CQLP_LEX_EARLY_EXIT: /* ANTLR's words for a (...)+ that matched nothing */
        if ((size_t)pos >= ctx->srclen)
            snprintf(msg, sizeof(msg),
                     "required (...)+ loop did not match anything at character '<EOF>'");
        else
            snprintf(msg, sizeof(msg),
                     "required (...)+ loop did not match anything at character '%c'",
                     ctx->src[pos]);
        break;
    case CQLP_LEX_MISMATCH_SET: /* ANTLR's words for a failed character set */
        if ((size_t)pos >= ctx->srclen)
            snprintf(msg, sizeof(msg), "mismatched character '<EOF>' expecting set null");
        else
            snprintf(msg, sizeof(msg), "mismatched character '%c' expecting set null",
                     ctx->src[pos]);
        break;
    default: {
        if ((size_t)pos >= ctx->srclen) {
            snprintf(msg, sizeof(msg), "no viable alternative at character '<EOF>'");
            break;
        }
        /* show the whole (UTF-8) character, or an escape for controls */
        const unsigned char *z = (const unsigned char *)ctx->src + pos;
        size_t left = ctx->srclen - (size_t)pos, n = 1;
        char shown[16];
        if (z[0] >= 0xC0)
            while (n < left && n < 4 && (z[n] & 0xC0) == 0x80)
                n++;
        if (z[0] < 0x20 || z[0] == 0x7F)
            snprintf(shown, sizeof(shown), "\\u%04x", z[0]);
        else
            snprintf(shown, sizeof(shown), "%.*s", (int)n, (const char *)z);
        snprintf(msg, sizeof(msg), "no viable alternative at character '%s'", shown);
        break;
    }
    }
    return hln_fail(ctx->err, HLN_ESYNTAX, "line %d:%d %s", line, col, msg);
}

/* ---- what ANTLR would have said ------------------------------------- */

/* The parser's states before each of the last few tokens, to ask what it
 * would have accepted there (cqlParserWouldShift); replayed from the tables
 * when an error needs them, so a parse that succeeds pays nothing. */
#define CQLP_RING 4
#define CQLP_MAX_STATES 200
typedef struct cqlp_states {
    unsigned short st[CQLP_MAX_STATES];
    int n;
} cqlp_states;

/* The verdict lemon's %syntax_error recorded, as a token to expect. */
static int legacy_want(const cqlp_ctx *ctx)
{
    if (ctx->eof_expected) return 0;
    if (ctx->n_expected == 1 && ctx->expected != TK_ID && token_name(ctx->expected))
        return ctx->expected; /* a name is a choice: no single token */
    return -1;
}

static bool in_set(const int *set, int t)
{
    for (; *set; set++)
        if (*set == t) return true;
    return false;
}

/* An identifier where Cassandra's grammar takes one: IDENT, QUOTED_NAME or
 * an unreserved keyword. */
static bool is_name(const cql_token *toks, int k)
{
    if (k < 0) return false;
    int t = toks[k].type;
    return t == TK_ID || t == TK_QUOTED || cqlParserFallback(t) == TK_ID;
}

/* The terminals the parser would take before toks[k] (k within the ring:
 * i - CQLP_RING < k <= i), a bit per token; exact: as themselves. */
typedef struct tokset {
    uint64_t w[CQLP_TOKEN_WORDS];
} tokset;

static tokset takes_set(const cqlp_states *ring, int i, int k, bool exact)
{
    tokset s;
    memset(&s, 0, sizeof(s));
    if (k < 0 || k > i || i - k >= CQLP_RING) return s;
    const cqlp_states *r = &ring[k % CQLP_RING];
    int n = cqlParserTokenCount();
    for (int t = 0; t < n && t < 64 * CQLP_TOKEN_WORDS; t++)
        if (cqlParserWouldShift(r->st, r->n, t, exact)) s.w[t / 64] |= 1ull << (t % 64);
    return s;
}

static bool has(const tokset *s, int t)
{
    return t >= 0 && t < 64 * CQLP_TOKEN_WORDS && (s->w[t / 64] >> (t % 64) & 1);
}

/* Whether s holds nothing but the tokens of only (0-terminated). */
static bool only_of(const tokset *s, const int *only)
{
    tokset o = *s;
    for (; *only; only++)
        o.w[*only / 64] &= ~(1ull << (*only % 64));
    for (int w = 0; w < CQLP_TOKEN_WORDS; w++)
        if (o.w[w]) return false;
    return true;
}

/* Whether toks[k] is a name the parser took as one: an unreserved keyword
 * it took as the keyword is none. */
static bool name_taken(const cql_token *toks, const cqlp_states *ring, int i, int k)
{
    if (!is_name(toks, k)) return false;
    if (toks[k].type == TK_ID || toks[k].type == TK_QUOTED) return true;
    tokset before = takes_set(ring, i, k, true);
    return !(has(&before, toks[k].type) && !has(&before, TK_ID));
}

/* Whether t is a word some CREATE, DROP or ALTER statement of Cassandra's
 * has second (the ones that lex as identifiers here). */
static bool statement_word(const cql_token *t)
{
    static const char *const words[] = {"type",   "trigger",      "function", "aggregate",
                                        "schema", "columnfamily", "or",       "identity",
                                        "custom", "materialized", "view",     "user",
                                        "role",   "index",        "keyspace", "table"};
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if ((size_t)t->n == strlen(words[k]) && !strncasecmp(t->z, words[k], (size_t)t->n))
            return true;
    return false;
}

/* Whether toks[k] is in a SELECT's selection (before its FROM) or its
 * GROUP BY, both lists of selectors. */
static bool in_selection(const cql_token *toks, int k)
{
    if (k < 1 || toks[0].type != TK_SELECT) return false;
    for (int j = k; j >= 1; j--) {
        int t = toks[j].type;
        if (t == TK_BY && toks[j - 1].type == TK_GROUP) return true;
        if (t == TK_FROM || t == TK_WHERE || t == TK_ORDER || t == TK_LIMIT || t == TK_ALLOW ||
            t == TK_PER)
            return false;
    }
    return true;
}

/* Whether t spells one of Cassandra's native types (keywords there). */
static bool native_type_word(const cql_token *t)
{
    static const char *const words[] = {
        "ascii",  "bigint",    "blob",     "boolean", "counter", "date",     "decimal",
        "double", "duration",  "float",    "inet",    "int",     "smallint", "text",
        "time",   "timestamp", "timeuuid", "tinyint", "uuid",    "varchar",  "varint"};
    if (t->type != TK_ID && cqlParserFallback(t->type) != TK_ID && t->type != TK_TIMESTAMP)
        return false;
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if ((size_t)t->n == strlen(words[k]) && !strncasecmp(t->z, words[k], (size_t)t->n))
            return true;
    return false;
}

/* The '(' that toks[k] sits in (the nearest unclosed one before it), or -1. */
static int enclosing_paren(const cql_token *toks, int k)
{
    int depth = 0;
    for (int j = k - 1; j >= 0; j--) {
        if (toks[j].type == TK_RP) depth++;
        if (toks[j].type == TK_LP && depth-- == 0) return j;
    }
    return -1;
}

/* Whether toks[k] stands where a term may (a literal could be there). */
static bool in_term(const cqlp_states *ring, int i, int k)
{
    tokset at = takes_set(ring, i, k, false);
    return has(&at, TK_INTEGER) && has(&at, TK_STRING);
}

/* Tokens that may follow a term somewhere in Cassandra's grammar: ANTLR
 * leaves a term's operator loop on these (its decision there looks at two
 * tokens, so it names the others "no viable alternative"). */
static const int follow_term[] = {
    TK_COMMA, TK_RP,      TK_RBRACKET, TK_RBRACE, TK_COLON, TK_WHERE, TK_AND,
    TK_IF,    TK_SEMI,    TK_ALLOW,    TK_LIMIT,  TK_ORDER, TK_GROUP, TK_PER,
    TK_APPLY, TK_INSERT,  TK_UPDATE,   TK_DELETE, TK_PLUS,  TK_MINUS, TK_STAR,
    TK_SLASH, TK_PERCENT, TK_ASC,      TK_DESC,   TK_AS,    0};

/* Tokens that may follow a selector's name somewhere (a column, f(...),
 * c.f, c[...], in a list, a map, a group by, arithmetic): ANTLR's decision
 * on a selector passes on these. */
static const int follow_selector[] = {
    TK_COMMA, TK_FROM,  TK_AS,    TK_RP,    TK_RBRACKET, TK_RBRACE,   TK_COLON,
    TK_PLUS,  TK_MINUS, TK_STAR,  TK_SLASH, TK_PERCENT,  TK_LBRACKET, TK_DOT,
    TK_LP,    TK_ORDER, TK_LIMIT, TK_ALLOW, TK_SEMI,     TK_PER,      0};

/* In a SELECT's top-level selection, the '[' of a selector c[...] that the
 * error at toks[i] falls in or just after, or 0. */
static int selector_bracket(const cql_token *toks, int ntok, int i, bool *nested)
{
    if (!in_selection(toks, i - 1)) return 0;
    int depth = 0, b = 0, bdepth = 0, close = 0;
    for (int j = 1; j < i; j++) {
        int t = toks[j].type;
        if (t == TK_BY) return 0; /* GROUP BY */
        if (t == TK_LP) depth++;
        if (t == TK_RP && --depth < bdepth) b = 0;
        bool own = j >= 3 && toks[j - 2].type == TK_LP &&
                   (toks[j - 3].type == TK_WRITETIME || toks[j - 3].type == TK_MAXWRITETIME ||
                    toks[j - 3].type == TK_TTLFN); /* writetime(c[k]) is no modifier */
        if (t == TK_LBRACKET && is_name(toks, j - 1) && !own && (!b || depth <= bdepth))
            b = j, bdepth = depth, close = 0;
        if (b && depth == bdepth && t == TK_RBRACKET) close = j;
        if (b && depth == bdepth && t == TK_COMMA && close) b = 0;
    }
    if (!b || depth != bdepth) return 0;
    *nested = bdepth > 0; /* in a function's arguments: ')' follows */
    /* inside the brackets, or just after them on what may not follow */
    if (!close) return b;
    int t = i < ntok ? toks[i].type : 0;
    return close == i - 1 && !in_set(follow_selector, t) ? b : 0;
}

/* Tokens that end a term other than a name: literals, markers, closers. */
static const int literals_end[] = {TK_STRING,   TK_INTEGER,  TK_FLOAT, TK_BOOL, TK_UUID,
                                   TK_HEX,      TK_DURATION, TK_QMARK, TK_NULL, TK_RP,
                                   TK_RBRACKET, TK_RBRACE,   0};

/* Tokens that close what an optional list or part sits in, or must follow
 * an optional name (CREATE INDEX [name] ON, RENAME a TO b): ANTLR leaves the
 * optional part on any other token and then wants this one. */
static const int closers[] = {TK_RP, TK_RBRACKET, TK_RBRACE, TK_ON, TK_TO, 0};

/* Tokens that may start a term, a selector, a name or an index target:
 * those of an optional part, so not the one token that must come. */
static bool starter(int t)
{
    static const int starts[] = {
        TK_ID,     TK_QUOTED,   TK_STRING,    TK_INTEGER,      TK_FLOAT, TK_BOOL,         TK_UUID,
        TK_HEX,    TK_DURATION, TK_QMARK,     TK_COLON,        TK_LP,    TK_LBRACKET,     TK_LBRACE,
        TK_MINUS,  TK_TOKEN,    TK_NULL,      TK_CAST,         TK_FULL,  TK_ENTRIES,      TK_KEYS,
        TK_VALUES, TK_STAR,     TK_WRITETIME, TK_MAXWRITETIME, TK_TTLFN, TK_EMPTY_QUOTED, 0};
    return in_set(starts, t) || cqlParserFallback(t) == TK_ID;
}

/* Tokens that may follow a table name somewhere: ANTLR's decision on a
 * name's optional "keyspace." passes on these. */
static const int follow_table[] = {
    TK_SEMI,  TK_WHERE,       TK_USING,  TK_SET,    TK_LP,      TK_JSON,  TK_WITH,
    TK_ALTER, TK_ADD,         TK_DROP,   TK_RENAME, TK_AS,      TK_TO,    TK_FROM,
    TK_OF,    TK_NORECURSIVE, TK_GROUP,  TK_ORDER,  TK_LIMIT,   TK_ALLOW, TK_PER,
    TK_APPLY, TK_INSERT,      TK_UPDATE, TK_DELETE, TK_PRIMARY, 0};

/* Tokens that start an optional part or another round of a loop: ANTLR
 * leaves those on anything else and then matches the one token that must
 * come, so it names that token ("mismatched input ... expecting"). */
static const int optional_starts[] = {
    TK_COMMA, TK_AND, TK_PLUS,   TK_MINUS,  TK_STAR,   TK_SLASH,    TK_PERCENT, TK_AS,
    TK_USING, TK_IF,  TK_INSERT, TK_UPDATE, TK_DELETE, TK_UNLOGGED, TK_DOT,     0};

/* Words the message the way Cassandra's ANTLR 3 parser would for the error
 * lemon found at toks[i] (i == ntok: the end of input).
 *
 * ANTLR decides between alternatives by looking ahead; when no alternative
 * fits, it reports the token where the look-ahead failed ("no viable
 * alternative at input 'x'") but its token stream is back at the token the
 * decision started at, which is what the snippet brackets. Its decisions
 * after a name look ahead (is it ks.table, a function call f(...), a
 * relation's column?), so an error just after a name, or after
 * "name IN", starts at the name. Where a decision only leaves an optional
 * part or a loop, the next step matches a single token and fails as
 * "mismatched input 'x' expecting T". */
static int antlr_error(cqlp_ctx *ctx, const cql_token *toks, int ntok, int i)
{
    /* the parser's states before the last few tokens, replayed */
    cqlp_states *ring = cqlp_alloc(ctx, sizeof(*ring) * CQLP_RING);
    for (int k = i - CQLP_RING + 1 < 0 ? 0 : i - CQLP_RING + 1; k <= i; k++) {
        cqlp_states *r = &ring[k % CQLP_RING];
        r->n = cqlParserReplay(toks, k, r->st, CQLP_MAX_STATES);
        if (r->n < 0) r->n = 0;
    }
    static const int name_tails[] = {TK_DOT, TK_LP, TK_LBRACKET, TK_PLUS, TK_MINUS, TK_INTEGER, 0};
    static const int eq_only[] = {TK_EQ, 0};
    static const int statement_kinds[] = {TK_CREATE, TK_DROP,   TK_ALTER, TK_LIST,
                                          TK_GRANT,  TK_REVOKE, 0};
    int t = i < ntok ? toks[i].type : 0;
    int idx = i, fetched = i, want = legacy_want(ctx);
    bool decided = false;
    tokset after = takes_set(ring, i, i, false); /* what would do after toks[i - 1] */

    /* a selector c[...] that goes wrong: Cassandra's syntactic predicate on
     * the modifier fails, and the selector ends before '[' */
    bool nested = false;
    int bracket = selector_bracket(toks, ntok, i, &nested);
    if (bracket > 0) {
        i = idx = bracket;
        t = TK_LBRACKET;
        fetched = bracket + 1;
        want = nested ? TK_RP : TK_FROM;
        decided = true;
    }
    /* ALTER TABLE t DROP: a column, or DROP COMPACT STORAGE */
    if (!decided && i >= 4 && toks[0].type == TK_ALTER && toks[1].type == TK_TABLE &&
        toks[i - 1].type == TK_DROP && i - 1 >= 3) {
        idx = i - 1;
        want = -1;
        decided = true;
    }
    /* CREATE TABLE t (c type x: the type's decision (a native type, or
     * ks.udt?) */
    if (!decided && i >= 5 && toks[0].type == TK_CREATE && toks[1].type == TK_TABLE &&
        is_name(toks, i - 1) && is_name(toks, i - 2) &&
        (toks[i - 3].type == TK_LP || toks[i - 3].type == TK_COMMA) && t != TK_COMMA &&
        t != TK_RP && t != TK_STATIC && t != TK_PRIMARY && t != TK_LT && t != TK_DOT) {
        idx = i - 1;
        want = -1;
        decided = true;
    }

    /* the statement's kind: several start with CREATE, DROP, ALTER, ...;
     * none of CREATE, DROP and ALTER is followed by a plain name */
    if (i >= 1 && in_set(statement_kinds, toks[0].type) &&
        (i == 1 ||
         ((toks[0].type == TK_CREATE || toks[0].type == TK_DROP || toks[0].type == TK_ALTER) &&
          (toks[1].type == TK_QUOTED || (toks[1].type == TK_ID && !statement_word(&toks[1])))))) {
        i = 1;
        t = toks[1].type;
        idx = 0;
        fetched = 1;
        want = -1;
        decided = true;
    }
    /* a decision that started at a name (or ks.name): a table or type name
     * (ks.t?), a function call (f(...)?), a relation's column, a property
     * (name = ...), an assignment's value (c = c + 1 or f(...)?), or an
     * unreserved keyword that may also be a name (IF EXISTS, CLUSTERING) */
    if (!decided && name_taken(toks, ring, i, i - 1)) {
        bool eq = has(&after, TK_EQ), in = has(&after, TK_IN), dot = has(&after, TK_DOT);
        bool qualifiable = dot && !eq;
        bool complete = !only_of(&after, name_tails);
        bool keyword_or_name = false;
        if (toks[i - 1].type != TK_ID && toks[i - 1].type != TK_QUOTED &&
            !(i == 2 &&
              (toks[0].type == TK_CREATE || toks[0].type == TK_DROP || toks[0].type == TK_ALTER))) {
            tokset before = takes_set(ring, i, i - 1, true);
            keyword_or_name = has(&before, toks[i - 1].type) && has(&before, TK_ID);
        }
        int start = i - 1; /* where a ks.name or a.field chain starts */
        while (start >= 2 && toks[start - 1].type == TK_DOT && is_name(toks, start - 2))
            start -= 2;
        /* CREATE INDEX [name] ON: the name is optional, not qualified */
        bool index_name =
            start >= 1 && toks[start - 1].type == TK_INDEX && toks[0].type == TK_CREATE;
        /* a selector's name is a decision (column, f(...), c.f?), but not
         * an alias or writetime/ttl's column */
        bool selector_name =
            in_selection(toks, i - 1) && !(start >= 1 && toks[start - 1].type == TK_AS) &&
            !(start >= 2 && toks[start - 1].type == TK_LP &&
              (toks[start - 2].type == TK_WRITETIME || toks[start - 2].type == TK_MAXWRITETIME ||
               toks[start - 2].type == TK_TTLFN));
        if (index_name) qualifiable = false;
        bool undetermined = qualifiable || (has(&after, TK_LP) && in_term(ring, i, start)) ||
                            selector_name || (in && eq && !dot) || only_of(&after, eq_only) ||
                            !complete || keyword_or_name;
        bool selector = in_selection(toks, i - 1);
        /* a deletion's column (c, c[k], c.f) passes on what may follow one */
        bool deletion = dot && has(&after, TK_LBRACKET) && !eq && !selector;
        bool passes =
            !keyword_or_name && t &&
            (selector   ? in_set(follow_selector, t)
             : deletion ? t == TK_COMMA || t == TK_FROM
                        : qualifiable && !in_term(ring, i, start) && in_set(follow_table, t));
        /* a user type's plain name inside <...>: Cassandra takes it without
           looking further (a native type's keyword it does look past) */
        if (start >= 1 && toks[start - 1].type == TK_LT && !native_type_word(&toks[start]))
            undetermined = false;
        if (undetermined && !passes) {
            idx = start;
            /* "(name" in a term: a type hint or a tuple, decided from '(';
               "{name": a set, a map or a UDT literal, decided from '{' */
            if (start >= 1 &&
                (toks[start - 1].type == TK_LP || toks[start - 1].type == TK_LBRACE) &&
                in_term(ring, i, start - 1))
                idx--;
            want = -1;
            decided = true;
        } else if (undetermined) {
            fetched = i + 1; /* the decision looked one token further */
        }
    }
    /* "name IN x" in a relation, "name = x" in a property, "f(x" in a term:
     * one decision from the name */
    if (!decided && i >= 2 && name_taken(toks, ring, i, i - 2)) {
        int mid = toks[i - 1].type;
        tokset at = takes_set(ring, i, i - 1, false);
        if ((mid == TK_IN && has(&at, TK_EQ) && !has(&at, TK_DOT)) ||
            (mid == TK_EQ && only_of(&at, eq_only)) ||
            (mid == TK_LP && only_of(&at, name_tails) && in_term(ring, i, i - 2) &&
             !in_selection(toks, i - 2))) {
            idx = i - 2;
            want = -1;
            decided = true;
        }
    }
    /* "name ." in a term or selector: the name's decision wants a name
     * next; "{" and "(" in a term (or "(" opening a relation) start a
     * decision of their own (collection or UDT? type hint or tuple? relation
     * or tuple of columns?) */
    if (!decided && i >= 2 && toks[i - 1].type == TK_DOT && name_taken(toks, ring, i, i - 2) &&
        (in_term(ring, i, i - 2) || in_selection(toks, i - 2)) && !is_name(toks, i)) {
        idx = i - 2;
        while (idx >= 2 && toks[idx - 1].type == TK_DOT && is_name(toks, idx - 2))
            idx -= 2;
        want = -1;
        decided = true;
    }
    if (!decided && i >= 1 && (toks[i - 1].type == TK_LBRACE || toks[i - 1].type == TK_LP) &&
        (toks[i - 1].type == TK_LBRACE || !in_selection(toks, i - 1))) {
        tokset before = takes_set(ring, i, i - 1, false);
        bool term = (has(&before, TK_INTEGER) && has(&before, TK_STRING)) ||
                    (toks[i - 1].type == TK_LBRACE && in_selection(toks, i - 1));
        bool relation = toks[i - 1].type == TK_LP && has(&before, TK_TOKEN) &&
                        has(&before, TK_ID) && !has(&before, TK_INTEGER);
        bool tuples = toks[i - 1].type == TK_LP && i >= 3 && toks[i - 2].type == TK_IN &&
                      toks[i - 3].type == TK_RP; /* (a, b) IN (...) */
        int open = enclosing_paren(toks, i - 1);
        bool in_tuples = toks[i - 1].type == TK_LP && open >= 2 && toks[open - 1].type == TK_IN &&
                         toks[open - 2].type == TK_RP;
        if ((term && !in_tuples) || relation || tuples) {
            idx = i - 1;
            want = -1;
            decided = true;
        }
    }
    /* "(name x" opening a relation: the relation's decision from '(' */
    if (!decided && i >= 2 && toks[i - 2].type == TK_LP && name_taken(toks, ring, i, i - 1) &&
        t != TK_COMMA && t != TK_RP) {
        tokset before = takes_set(ring, i, i - 2, false);
        if (has(&before, TK_TOKEN) && has(&before, TK_ID) && !has(&before, TK_INTEGER)) {
            idx = i - 2;
            want = -1;
            decided = true;
        }
    }
    /* "x + y" after a literal or a closed term: '+' may also be
     * "c = [1] + c", so the loop's decision starts at '+' */
    if (!decided && i >= 2 && toks[i - 1].type == TK_PLUS && !in_selection(toks, i - 1) &&
        (in_set(literals_end, toks[i - 2].type))) {
        idx = i - 1;
        want = -1;
        decided = true;
    }
    /* the end of a term: its operator loop */
    static const int literals[] = {TK_STRING, TK_INTEGER,  TK_FLOAT, TK_BOOL, TK_UUID,
                                   TK_HEX,    TK_DURATION, TK_QMARK, TK_NULL, 0};
    bool literal_before = i >= 1 && in_set(literals, toks[i - 1].type);
    bool in_selector = in_selection(toks, i - 1);
    bool term_end = (has(&after, TK_STAR) && has(&after, TK_PERCENT) && !in_selector) ||
                    (literal_before && !in_selector &&
                     (has(&after, TK_COLON) || has(&after, TK_COMMA) || has(&after, TK_RP) ||
                      has(&after, TK_RBRACE) || has(&after, TK_RBRACKET)));
    /* a selector that is a literal: its decision looks one token further */
    bool selector_literal = literal_before && in_selector && i >= 2 &&
                            (toks[i - 2].type == TK_SELECT || toks[i - 2].type == TK_COMMA ||
                             toks[i - 2].type == TK_LP || toks[i - 2].type == TK_STAR ||
                             toks[i - 2].type == TK_PLUS || toks[i - 2].type == TK_MINUS ||
                             toks[i - 2].type == TK_SLASH || toks[i - 2].type == TK_PERCENT);
    /* "{ term": a map (':') or a set (',' or '}') */
    if (!decided && term_end && i >= 2 && toks[i - 2].type == TK_LBRACE && t != TK_COLON &&
        t != TK_COMMA && t != TK_RBRACE) {
        if (in_set(follow_term, t)) fetched = i + 1;
        want = -1;
        decided = true;
    }
    if (!decided && term_end) {
        if (t != 0 && !in_set(follow_term, t)) {
            if (toks[i - 1].type == TK_QMARK) idx = i - 1;
            want = -1;
            decided = true;
        } else {
            fetched = i + 1; /* the loop's decision looked one token further */
        }
    } else if (!decided && selector_literal) {
        fetched = i + 1;
    }
    /* a bind marker in a selection: its decision fails at a token that
     * may not follow a selector */
    if (!decided && in_selector && toks[i - 1].type == TK_QMARK && t &&
        !in_set(follow_selector, t)) {
        idx = i - 1;
        want = -1;
        decided = true;
    }
    /* writetime(c ...), ttl(c ...): the modifier's decision (.f, [e] or
       none) names a token that may not follow a selector "no viable
       alternative" (on ',' it takes none, then wants ')') */
    bool modifier = i >= 3 && toks[i - 2].type == TK_LP &&
                    (toks[i - 3].type == TK_WRITETIME || toks[i - 3].type == TK_MAXWRITETIME ||
                     toks[i - 3].type == TK_TTLFN) &&
                    !in_set(follow_selector, t);
    if (!decided && modifier) {
        want = -1;
        decided = true;
    }
    /* left optional parts and loops: the one token that must come */
    if (!decided && want < 0 && !ctx->eof_expected) {
        int only = -1, count = 0, closer = -1, others = 0;
        for (int k = 1; k < 64 * CQLP_TOKEN_WORDS; k++) {
            if (!(ctx->expected_set[k / 64] >> (k % 64) & 1)) continue;
            if (in_set(optional_starts, k)) continue;
            count++;
            only = k;
            if (in_set(closers, k))
                closer = k;
            else if (!starter(k) || (k == TK_COLON && term_end))
                others++; /* after a term ':' is a map's, no bind marker's */
        }
        if (count == 1 && token_name(only) && only != TK_ID)
            want = only; /* a name is a choice (IDENT, QUOTED_NAME, keyword) */
        else if (closer > 0 && others == 0)
            want = closer; /* an optional list in (...), [...] or {...} */
    }
    if (fetched > ntok) fetched = ntok;
    return syntax_error(ctx, toks, ntok, i, idx, fetched, want);
}

/* ---- the driver ------------------------------------------------------ */

/* JSON and DISTINCT right after SELECT are flags unless what follows shows
 * they are a column name (Cassandra's syntactic predicates). */
static bool ends_selector(const cql_token *toks, int ntok, int i)
{
    if (i + 1 >= ntok) return true;
    int t = toks[i + 1].type;
    return t == TK_FROM || t == TK_COMMA || t == TK_AS || t == TK_SEMI;
}

/* writetime( / maxwritetime( / ttl( in a selection are Cassandra's
 * selection functions of one column (grammar rules of their own, so
 * writetime(*) is a syntax error there too). */
static void retag_selection_functions(cql_token *toks, int ntok)
{
    for (int i = 1; i + 1 < ntok && toks[i].type != TK_FROM; i++) {
        if (toks[i + 1].type != TK_LP) continue;
        if (toks[i].type == TK_TTL)
            toks[i].type = TK_TTLFN;
        else if (toks[i].type == TK_ID && toks[i].n == 9 && !strncasecmp(toks[i].z, "writetime", 9))
            toks[i].type = TK_WRITETIME;
        else if (toks[i].type == TK_ID && toks[i].n == 12 &&
                 !strncasecmp(toks[i].z, "maxwritetime", 12))
            toks[i].type = TK_MAXWRITETIME;
    }
}

static void retag(cql_token *toks, int ntok)
{
    if (ntok < 2 || toks[0].type != TK_SELECT) return;
    retag_selection_functions(toks, ntok);
    int i = 1;
    if (toks[i].type == TK_JSON) {
        if (ends_selector(toks, ntok, i)) {
            toks[i].type = TK_ID;
            return;
        }
        i++;
    }
    if (i < ntok && toks[i].type == TK_DISTINCT && ends_selector(toks, ntok, i))
        toks[i].type = TK_ID;
}

static int run(cqlp_ctx *ctx, cql_stmt **out)
{
    const char *src = ctx->src;
    size_t len = ctx->srclen;
    int ntok = 0, lex_pos = -1, tlen;
    cqlp_lex_error why = CQLP_LEX_BAD_CHAR;

    /* pass 1: count tokens up to the first lexical error */
    for (size_t p = 0; p < len; p += (size_t)tlen) {
        int t = cqlp_get_token(src + p, len - p, &tlen, &why);
        if (t == CQLP_TK_ILLEGAL) {
            lex_pos = (int)p + tlen;
            break;
        }
        if (t != CQLP_TK_SPACE) ntok++;
    }
    /* pass 2: keep them */
    cql_token *toks = cqlp_alloc(ctx, sizeof(*toks) * (size_t)(ntok + 1));
    int k = 0;
    for (size_t p = 0; k < ntok; p += (size_t)tlen) {
        cqlp_lex_error w;
        int t = cqlp_get_token(src + p, len - p, &tlen, &w);
        if (t == CQLP_TK_SPACE) continue;
        toks[k].z = src + p;
        toks[k].n = tlen;
        toks[k].pos = (int)p;
        toks[k].type = t;
        k++;
    }
    retag(toks, ntok);

    void *parser = cqlp_alloc(ctx, cqlParserSize());
    cqlParserInit(parser);
    int i;
    for (i = 0; i < ntok; i++) {
        cqlParser(parser, toks[i].type, toks[i], ctx);
        if (ctx->syntax_error || ctx->overflow) {
            if (ctx->error_at) {
                int at = i, from = -1;
                for (int j = 0; j <= i; j++) {
                    if (toks[j].pos == ctx->error_pos) at = j;
                    if (toks[j].pos == ctx->error_from) from = j;
                }
                if (from >= 0) return syntax_error(ctx, toks, ntok, at, from, at, -1);
                return syntax_error(ctx, toks, ntok, at, at,
                                    ctx->lookahead_shown && at + 1 < ntok ? at + 1 : at,
                                    legacy_want(ctx));
            }
            return antlr_error(ctx, toks, ntok, i);
        }
    }
    if (lex_pos >= 0) return lex_error(ctx, lex_pos, why);

    cql_token eof = {src + len, 0, (int)len, 0};
    cqlParser(parser, 0, eof, ctx);
    if (ctx->syntax_error || ctx->overflow || !ctx->stmt) {
        if (ctx->error_at || ctx->overflow || !ctx->syntax_error)
            return syntax_error(ctx, toks, ntok, ntok, ntok, ntok, legacy_want(ctx));
        return antlr_error(ctx, toks, ntok, ntok);
    }
    cqlParserFinalize(parser);

    cql_stmt *s = ctx->stmt;
    s->n_binds = ctx->n_binds;
    if (ctx->n_binds > 0) {
        int n = 0;
        s->bind_names = cqlp_alloc(ctx, sizeof(*s->bind_names) * (size_t)ctx->n_binds);
        for (cqlp_bind_name *b = ctx->binds_head; b; b = b->next)
            s->bind_names[n++] = b->name;
    }
    *out = s;
    return 0;
}

/* The only frame that calls setjmp: it keeps nothing in locals. */
static int guarded_run(cqlp_ctx *ctx, cql_stmt **out)
{
    if (setjmp(ctx->jb) != 0) return ctx->jump_code;
    return run(ctx, out);
}

/* True when the words of text (after blanks) start with those of words,
 * case-insensitively. */
static bool starts_with_words(const char *s, size_t n, const char *const *words)
{
    size_t i = 0;
    for (; *words; words++) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        size_t w = strlen(*words);
        if (n - i < w || strncasecmp(s + i, *words, w) != 0) return false;
        i += w;
        if (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
    }
    return true;
}

int cql_parse(const char *text, size_t len, hln_arena *arena, cql_stmt **out, hln_error *err)
{
    cqlp_ctx ctx;
    hln_error scratch;

    *out = NULL;
    if (!err) err = &scratch;
    /* User-defined functions run Java in Cassandra and are off by default
       (user_defined_functions_enabled: false); Helenus has none: answer as
       a default Cassandra 5.0 does. */
    static const char *const create_fn[] = {"create", "function", NULL};
    static const char *const replace_fn[] = {"create", "or", "replace", "function", NULL};
    if (text &&
        (starts_with_words(text, len, create_fn) || starts_with_words(text, len, replace_fn)))
        return hln_fail(err, HLN_EINVAL,
                        "User-defined functions are disabled in cassandra.yaml - set "
                        "user_defined_functions_enabled=true to enable");
    if (len > (size_t)INT_MAX / 2) return hln_fail(err, HLN_ESYNTAX, "line 1:0 statement too long");
    memset(&ctx, 0, sizeof(ctx));
    ctx.arena = arena;
    ctx.src = text ? text : "";
    ctx.srclen = text ? len : 0;
    ctx.err = err;
    ctx.error_from = -1;
    int rc = guarded_run(&ctx, out);
    if (rc != 0) *out = NULL;
    return rc;
}
