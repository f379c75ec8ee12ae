/*
 * cqlInt.h — private interface between the CQL lexer (lexer.c), the lemon
 * grammar (grammar.y, compiled from gen/grammar.c) and the driver (parse.c).
 *
 * What: the token record the lexer produces and lemon carries as its minor
 * value; the parse context every grammar action receives through
 * %extra_argument; small list builders; and the node constructors the
 * actions call (all in parse.c).
 *
 * Why a context with a jmp_buf: every node comes from the caller's arena, and
 * an arena allocation can fail in the middle of a reduction, where lemon gives
 * an action no way to stop the parse. The constructors therefore longjmp back
 * to cql_parse() on failure (out of memory, or a semantic error Cassandra
 * raises while parsing such as a second PRIMARY KEY). That is safe because
 * the lemon engine owns no resources: its stack is a fixed array inside the
 * parser object, which itself lives in the arena.
 *
 * Invariants:
 *  1. Actions never see a NULL node: constructors either return memory or
 *     do not return.
 *  2. A cql_token's z/n always point into the statement text; decoding
 *     (case folding, unquoting, unescaping) happens in the actions.
 *  3. Internal token codes (CQLP_TK_*) never reach the parser.
 */
#ifndef HLN_CQL_INT_H
#define HLN_CQL_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "cql/cql.h"

/* One token: its code (TK_* from the generated grammar.h), where it is. */
typedef struct cql_token {
    const char *z; /* first byte, inside the statement text */
    int n;         /* length in bytes */
    int pos;       /* byte offset of z in the statement */
    int type;      /* TK_* */
} cql_token;

/* Lexer-only token codes; never handed to the parser. */
enum {
    CQLP_TK_SPACE = 1000, /* white space or a comment */
    CQLP_TK_ILLEGAL,      /* a lexical error; see cqlp_lex_error */
};

/* Why the lexer gave CQLP_TK_ILLEGAL. */
typedef enum cqlp_lex_error {
    CQLP_LEX_BAD_CHAR,     /* a character no token starts with */
    CQLP_LEX_OPEN_STRING,  /* '...  without its closing quote */
    CQLP_LEX_OPEN_DOLLAR,  /* $$... without its closing $$ */
    CQLP_LEX_OPEN_QUOTED,  /* "...  without its closing quote */
    CQLP_LEX_OPEN_COMMENT, /* / * ... without its closing star-slash */
    CQLP_LEX_MISMATCH_SET, /* -i / -n not continued as -Infinity / -NaN */
    CQLP_LEX_EXPECT_DASH,  /* a UUID literal cut short where a '-' belongs */
    CQLP_LEX_EARLY_EXIT,   /* a number's exponent without digits */
} cqlp_lex_error;

/* Reads the token starting at z[0] (n > 0 bytes left). Returns its code and
 * sets *len. For CQLP_TK_ILLEGAL, *len is the offset of the offending
 * character (or n when the input ended too soon) and *why says what. */
int cqlp_get_token(const char *z, size_t n, int *len, cqlp_lex_error *why);

/* ---- list builders used by the grammar ------------------------------- */
#define CQLP_APPEND(L, item)                                                                       \
    do {                                                                                           \
        if ((L).tail)                                                                              \
            (L).tail->next = (item);                                                               \
        else                                                                                       \
            (L).head = (item);                                                                     \
        (L).tail = (item);                                                                         \
    } while (0)

typedef struct cqlp_term_node {
    cql_term *term;
    struct cqlp_term_node *next;
} cqlp_term_node;

typedef struct cqlp_type_node {
    cql_typeref *type;
    struct cqlp_type_node *next;
} cqlp_type_node;

typedef struct {
    cql_name_list *head, *tail;
} cqlp_names;
typedef struct {
    cqlp_term_node *head, *tail;
    int n;
} cqlp_terms;
typedef struct {
    cqlp_type_node *head, *tail;
    int n;
} cqlp_types;
typedef struct {
    cql_property *head, *tail;
} cqlp_props;
typedef struct {
    cql_map_entry *head, *tail;
} cqlp_map;
typedef struct {
    cql_relation *head, *tail;
} cqlp_rels;
typedef struct {
    cql_assignment *head, *tail;
} cqlp_assigns;
typedef struct {
    cql_selector *head, *tail;
} cqlp_sels;
typedef struct {
    cql_deletion *head, *tail;
} cqlp_dels;
typedef struct {
    cql_order *head, *tail;
} cqlp_orders;

/* An UPDATE/DELETE's IF clause: IF EXISTS, or conditions. */
typedef struct {
    bool exists;
    cql_relation *conds;
} cqlp_ifc;

/* SELECT's optional clauses, gathered by the grammar. */
typedef struct cqlp_select_tail {
    cql_relation *where;
    cql_order *order_by;
    cql_term *per_partition_limit;
    cql_term *limit;
    bool allow_filtering;
} cqlp_select_tail;

typedef struct cqlp_bind_name {
    const char *name;
    struct cqlp_bind_name *next;
} cqlp_bind_name;

/* Words of a bit set over the parser's terminals. */
#define CQLP_TOKEN_WORDS 4

/* Everything a grammar action may touch. */
typedef struct cqlp_ctx {
    hln_arena *arena;
    const char *src;
    size_t srclen;
    cql_stmt *stmt; /* set by the statement's reduction */

    /* bind markers, in order of appearance */
    int n_binds;
    cqlp_bind_name *binds_head, *binds_tail;

    /* CREATE TABLE under construction (its head is reduced before the
     * column list, so column actions append here) */
    cql_create_table *ct;
    cql_column_def *col_tail;
    cql_name_list *ck_tail;
    cql_order *corder_tail;
    cql_property *tprop_tail;
    int pk_decls; /* PRIMARY KEY declarations seen, inline or clause */

    /* the parser's verdict */
    bool syntax_error; /* %syntax_error ran */
    bool overflow;     /* %stack_overflow ran */
    bool eof_expected; /* the parser would have accepted end of input */
    int n_expected;    /* terminals it would have accepted (not via fallback) */
    int expected;      /* the only one when n_expected == 1 */
    uint64_t expected_set[CQLP_TOKEN_WORDS]; /* all of them, a bit per token */
    bool error_at; /* an action refused a token (cqlp_reject): at error_pos */
    int error_pos;
    int error_from;       /* where ANTLR's failed decision started (a byte offset), or -1 */
    bool lookahead_shown; /* the error's snippet shows the token after it */

    /* non-local exit from actions: ENOMEM or a semantic error */
    jmp_buf jb;
    int jump_code;
    hln_error *err;
} cqlp_ctx;

/* ---- lemon entry points (generated; named by %name cqlParser) -------- */
size_t cqlParserSize(void);
void cqlParserInit(void *parser);
void cqlParser(void *parser, int major, cql_token minor, cqlp_ctx *ctx);
void cqlParserFinalize(void *parser);
/* The parser's stack of states, bottom first (at most cap), after the
 * tokens toks[0..k), replayed on the tables alone (no action runs); how
 * many, or -1 if the tables refuse one of them. */
int cqlParserReplay(const cql_token *toks, int k, unsigned short *st, int cap);
/* Whether a parser with stack st[0..n) would shift tok, after the
 * reductions tok triggers (the tables only: no action runs); exact: as
 * itself, not as the identifier an unreserved keyword falls back to. */
bool cqlParserWouldShift(const unsigned short *st, int n, int tok, bool exact);
/* How many terminals the parser has (token codes are below it). */
int cqlParserTokenCount(void);
/* The token tok falls back to where the grammar has no use for it, or 0. */
int cqlParserFallback(int tok);

/* ---- constructors the actions call (parse.c) ------------------------- */
/* Zeroed arena memory; never returns NULL (longjmps with HLN_ENOMEM). */
void *cqlp_alloc(cqlp_ctx *ctx, size_t n);
/* Stops the parse with code and a message (never returns). */
_Noreturn void cqlp_fail(cqlp_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

cql_stmt *cqlp_stmt(cqlp_ctx *ctx, cql_stmt_kind kind);
const char *cqlp_ident(cqlp_ctx *ctx, const cql_token *t);  /* folds case */
const char *cqlp_quoted(cqlp_ctx *ctx, const cql_token *t); /* "x""y" -> x"y */
const char *cqlp_text(cqlp_ctx *ctx, const cql_token *t);   /* verbatim copy */
cql_term *cqlp_literal(cqlp_ctx *ctx, hln_lit_kind kind, const cql_token *t);
cql_term *cqlp_null(cqlp_ctx *ctx, const cql_token *t);
cql_term *cqlp_bind(cqlp_ctx *ctx, const cql_token *t, const char *name);
cql_name_list *cqlp_name(cqlp_ctx *ctx, const char *name);
cql_typeref *cqlp_type(cqlp_ctx *ctx, const char *name, const cqlp_types *params);
/* t as CQL writes it: "map<text, int>", "frozen<list<int>>" (arena). */
const char *cqlp_type_text(cqlp_ctx *ctx, const cql_typeref *t);
void cqlp_types_add(cqlp_ctx *ctx, cqlp_types *list, cql_typeref *t);
void cqlp_terms_add(cqlp_ctx *ctx, cqlp_terms *list, cql_term *t);
/* A collection literal of kind (CQL_TERM_LIST/SET/MAP) with the elements of
 * list (may be NULL: empty), opened by token open and closed by close. */
cql_term *cqlp_collection(cqlp_ctx *ctx, cql_term_kind kind, const cqlp_terms *list,
                          const cql_token *open, const cql_token *close);
cql_term **cqlp_terms_array(cqlp_ctx *ctx, const cqlp_terms *list);
/* x op y (x NULL: unary op y) as a CQL_TERM_OP at token opt. */
cql_term *cqlp_binop(cqlp_ctx *ctx, char op, cql_term *x, cql_term *y, const cql_token *opt);
/* Makes token t a syntax error ("no viable alternative at input 't'"), as
 * if the grammar had not accepted it (the parse stops after the action). */
void cqlp_reject(cqlp_ctx *ctx, const cql_token *t);
/* ... as ANTLR's "mismatched input 't' expecting <expected>" */
void cqlp_reject_expecting(cqlp_ctx *ctx, const cql_token *t, int expected);
/* Refuses the token at byte offset pos as ANTLR would at the end of a
 * decision that started at the token at byte offset from. */
void cqlp_reject_from(cqlp_ctx *ctx, int pos, int from);
/* CAST's target type: a native type name (folded), else rejected. */
const char *cqlp_cast_type(cqlp_ctx *ctx, const cql_token *t);
/* The selection function fn(col) or fn(col[elem]). */
struct cql_selector *cqlp_selfn(cqlp_ctx *ctx, const char *fn, const char *col, cql_term *elem);
/* (type) x: a type hint at token opt. */
cql_term *cqlp_hint(cqlp_ctx *ctx, const char *type, cql_term *x, const cql_token *opt);
/* The selector x op y. */
struct cql_selector *cqlp_selop(cqlp_ctx *ctx, char op, struct cql_selector *x,
                                struct cql_selector *y);

/* CREATE TABLE pieces */
void cqlp_table_begin(cqlp_ctx *ctx, bool if_not_exists, cql_qname name);
void cqlp_table_column(cqlp_ctx *ctx, const char *name, cql_typeref *type, bool is_static, bool pk);
void cqlp_table_pk(cqlp_ctx *ctx, cql_name_list *pk, cql_name_list *ck);
void cqlp_table_order(cqlp_ctx *ctx, const char *column, bool desc);
void cqlp_table_prop(cqlp_ctx *ctx, cql_property *p);

#endif
