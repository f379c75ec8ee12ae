/*
 * grammar.y — the CQL grammar, as input to the lemon parser generator.
 *
 * What: the statements Helenus parses today (CREATE/DROP/ALTER KEYSPACE,
 * USE, CREATE/DROP/ALTER TABLE, CREATE [CUSTOM]/DROP INDEX, TRUNCATE,
 * INSERT, UPDATE, DELETE, SELECT, ...), written after
 * Cassandra 5.0's Parser.g, building the tree declared in cql.h. The build
 * runs `lemon -q` on this file into gen/grammar.c and gen/grammar.h.
 *
 * Why it is shaped so:
 *  - Keywords that Cassandra leaves unreserved (key, ttl, timestamp, values,
 *    static, json, distinct, ...) are tokens with %fallback ID: where the
 *    grammar has no use for the keyword, lemon retries it as an identifier,
 *    which is what Cassandra's `unreserved_keyword` alternatives do. Words
 *    Cassandra reserves but we do not use yet lex as RESERVED and are
 *    accepted nowhere.
 *  - Lists are left-recursive (constant parser stack) and built with a
 *    head/tail pair so appends are O(1) and keep source order.
 *  - CREATE TABLE's head (CREATE TABLE [IF NOT EXISTS] name) is reduced
 *    before its column list, so column, key and option rules append straight
 *    into the statement (ctx->ct) instead of carrying lists around.
 *  - Bind markers are numbered when reduced; an LR parser reduces them in
 *    source order, so the numbers follow appearance order.
 *  - Only the first error matters (Cassandra reports its first): there is no
 *    error recovery (YYNOERRORRECOVERY); %syntax_error records the token and
 *    what the parser would have accepted instead, and parse.c words the
 *    message. To word it as ANTLR would, parse.c also asks what the parser
 *    would have taken a few tokens earlier: cqlParserWouldShift runs the
 *    tables alone (no action) from a saved stack of states. The parser stack is bounded (%stack_size) and overflow is a
 *    syntax error, so no input can recurse without limit.
 *
 * Selectors are expressions: columns, c[k], c[a..b], c.f, function calls whose
 * arguments are selectors (nested, ks.f(...)), CAST(s AS type), the
 * arithmetic operators and literals; writetime/maxwritetime/ttl(c) are
 * rules of their own (parse.c retags the names). Terms may be function
 * calls (ks.f(...), token(values)), arithmetic (unary minus included)
 * and native type hints ((int) ?; in selectors (int) 1). A WHERE relation
 * may be on token(partition key columns).
 *
 * Deliberately not parsed yet (syntax errors for now): collection type
 * hints, LIKE, custom types given as strings, and the statement kinds not
 * listed above.
 * `col IN (v)` with exactly one value and `col IN ?` parse into CQL_OP_IN;
 * `IN` with several values stops the parse with HLN_EUNSUPPORTED.
 *
 * Invariants:
 *  1. Every action allocates through the cqlp_* constructors (parse.c),
 *     which never return NULL.
 *  2. A successful parse reduces exactly one `cmd`, which sets ctx->stmt.
 */

%name cqlParser
%token_prefix TK_
%token_type {cql_token}
%default_type {int}
%extra_argument {cqlp_ctx *ctx}
%stack_size 200
%start_symbol input

%include {
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <strings.h>

#include "cql/cqlInt.h"

/* The statements of a BEGIN BATCH, in order. */
typedef struct cqlp_bnode {
    cql_stmt *stmt;
    struct cqlp_bnode *next;
} cqlp_bnode;
typedef struct { cqlp_bnode *head, *tail; int n; } cqlp_bstmts;

/* First error wins; the driver stops feeding tokens after it. */
#define YYNOERRORRECOVERY 1
#define YYPARSEFREENEVERNULL 1
}

%syntax_error {
    /* Record what this state would have accepted instead, so parse.c can
     * word the message as Cassandra's ANTLR parser would (it knows which
     * token it was feeding). */
    int st = yypParser->yytos->stateno;
    (void)yymajor;
    (void)yyminor;
    if (ctx->error_at) return; /* an action refused an earlier token */
    ctx->syntax_error = true;
    ctx->eof_expected = yy_find_shift_action(0, (YYACTIONTYPE)st) != YY_ERROR_ACTION;
    ctx->n_expected = 0;
    memset(ctx->expected_set, 0, sizeof(ctx->expected_set));
    if (st <= YY_MAX_SHIFT) {
        for (int t = 1; t < YYNTOKEN; t++) {
            int i = yy_shift_ofst[st] + t;
            if (yy_lookahead[i] == t && yy_action[i] != YY_ERROR_ACTION) {
                ctx->n_expected++;
                ctx->expected = t;
                if (t < 64 * CQLP_TOKEN_WORDS) ctx->expected_set[t / 64] |= 1ull << (t % 64);
            }
        }
    }
}

%stack_overflow {
    ctx->overflow = true;
}

%code {
size_t cqlParserSize(void)
{
    return sizeof(yyParser);
}

int cqlParserReplay(const cql_token *toks, int k, unsigned short *st, int cap)
{
    YYACTIONTYPE s[YYSTACKDEPTH + 1];
    int n = 1;
    s[0] = 0;
    for (int j = 0; j < k; j++) {
        for (int guard = 0;; guard++) {
            if (guard > 4 * YYSTACKDEPTH) return -1;
            YYACTIONTYPE act = yy_find_shift_action((YYCODETYPE)toks[j].type, s[n - 1]);
            if (act >= YY_MIN_REDUCE) {
                unsigned rule = act - YY_MIN_REDUCE;
                n += yyRuleInfoNRhs[rule];
                if (n < 1 || n >= YYSTACKDEPTH) return -1;
                s[n] = yy_find_reduce_action(s[n - 1], (YYCODETYPE)yyRuleInfoLhs[rule]);
                n++;
                continue;
            }
            if (act > YY_MAX_SHIFTREDUCE || n >= YYSTACKDEPTH) return -1;
            if (act > YY_MAX_SHIFT) act += YY_MIN_REDUCE - YY_MIN_SHIFTREDUCE;
            s[n++] = act;
            break;
        }
    }
    if (n > cap) return -1;
    for (int i = 0; i < n; i++)
        st[i] = s[i];
    return n;
}

/* Runs the tables only (no actions) from the stack st[0..n): reduces as
 * the parser would on tok, and says whether tok is then shifted (as itself
 * when exact, else also as the identifier it falls back to). */
static bool would_shift(const unsigned short *st, int n, int tok, bool exact)
{
    YYACTIONTYPE s[YYSTACKDEPTH + 1];
    if (n < 1 || n > YYSTACKDEPTH) return false;
    for (int i = 0; i < n; i++)
        s[i] = st[i];
    for (int guard = 0; guard < 4 * YYSTACKDEPTH; guard++) {
        YYACTIONTYPE act = yy_find_shift_action((YYCODETYPE)tok, s[n - 1]);
        if (exact && s[n - 1] <= YY_MAX_SHIFT &&
            yy_lookahead[yy_shift_ofst[s[n - 1]] + tok] != tok)
            act = yy_default[s[n - 1]];
        if (act >= YY_MIN_REDUCE) {
            unsigned rule = act - YY_MIN_REDUCE;
            n += yyRuleInfoNRhs[rule];
            if (n < 1 || n >= YYSTACKDEPTH) return false;
            s[n] = yy_find_reduce_action(s[n - 1], (YYCODETYPE)yyRuleInfoLhs[rule]);
            n++;
            continue;
        }
        return act <= YY_MAX_SHIFTREDUCE || act == YY_ACCEPT_ACTION;
    }
    return false;
}

bool cqlParserWouldShift(const unsigned short *st, int n, int tok, bool exact)
{
    if (tok < 0 || tok >= YYNTOKEN) return false;
    return would_shift(st, n, tok, exact);
}

int cqlParserTokenCount(void)
{
    return YYNTOKEN;
}
}

/* Tokens the lexer produces that no rule uses yet. */
%token RESERVED EMPTY_QUOTED MINUS PLUS SLASH PERCENT LBRACKET RBRACKET.
/* selection functions, retagged from identifiers by parse.c */
%token WRITETIME MAXWRITETIME TTLFN.

/* Arithmetic in terms and selectors: * / % bind tighter than + -, both
 * left-associative; unary minus tightest. */
%left PLUS MINUS.
%left STAR SLASH PERCENT.
%right UMINUS.

/* Unreserved keywords: identifiers wherever they are not keywords. */
%fallback ID KEY CLUSTERING COMPACT STORAGE VALUES TTL TIMESTAMP STATIC DISTINCT JSON AS
    FILTERING PER PARTITION EXISTS FROZEN CONTAINS GROUP DEFAULT CAST.
/* ... and those of the role and permission statements */
%fallback ID ALL KEYSPACES ROLE ROLES USER USERS LOGIN PASSWORD HASHED SUPERUSER NOSUPERUSER
    OPTIONS PERMISSION PERMISSIONS LIST UNMASK SELECT_MASKED.
/* ... and those of DESCRIBE (FULL stays reserved, as it lexed before) */
%fallback ID CLUSTER TABLES.
/* ... and ANN (ORDER BY v ANN OF [...]) */
%fallback ID ANN.
/* ... and those of CREATE INDEX (INDEX, ENTRIES and FULL are reserved) */
%fallback ID CUSTOM KEYS.

input ::= cmd semis.
semis ::= .
semis ::= semis SEMI.

/* ---- identifiers and names ------------------------------------------- */
%type ident {const char *}
ident(A) ::= ID(X).     { A = cqlp_ident(ctx, &X); }
ident(A) ::= QUOTED(X). { A = cqlp_quoted(ctx, &X); }

%type qname {cql_qname}
qname(A) ::= ident(N).                { A.ks = NULL; A.name = N; }
qname(A) ::= ident(K) DOT ident(N).   { A.ks = K; A.name = N; }

%type names {cqlp_names}
names(A) ::= ident(N). {
    A.head = A.tail = cqlp_name(ctx, N);
}
names(A) ::= names(A) COMMA ident(N). {
    cql_name_list *x = cqlp_name(ctx, N);
    CQLP_APPEND(A, x);
}

%type ifne {bool}
ifne(A) ::= .               { A = false; }
ifne(A) ::= IF NOT EXISTS.  { A = true; }

%type ife {bool}
ife(A) ::= .          { A = false; }
ife(A) ::= IF EXISTS. { A = true; }

/* ---- terms ------------------------------------------------------------ */
%type constant {cql_term *}
constant(A) ::= STRING(X).  { A = cqlp_literal(ctx, HLN_LIT_STRING, &X); }
constant(A) ::= INTEGER(X). { A = cqlp_literal(ctx, HLN_LIT_INTEGER, &X); }
constant(A) ::= FLOAT(X).   { A = cqlp_literal(ctx, HLN_LIT_FLOAT, &X); }
constant(A) ::= BOOL(X).    { A = cqlp_literal(ctx, HLN_LIT_BOOL, &X); }
constant(A) ::= UUID(X).    { A = cqlp_literal(ctx, HLN_LIT_UUID, &X); }
constant(A) ::= HEX(X).     { A = cqlp_literal(ctx, HLN_LIT_HEX, &X); }
constant(A) ::= DURATION(X). { A = cqlp_literal(ctx, HLN_LIT_DURATION, &X); }

%type bind {cql_term *}
bind(A) ::= QMARK(X).          { A = cqlp_bind(ctx, &X, NULL); }
bind(A) ::= COLON(X) ident(N). { A = cqlp_bind(ctx, &X, N); }

%type term {cql_term *}
term(A) ::= literal(A).
term(A) ::= ident(F) LP(O) RP(C). {
    A = cqlp_collection(ctx, CQL_TERM_FUNC, NULL, &O, &C);
    A->text = F;
}
term(A) ::= ident(F) LP(O) terms(L) RP(C). {
    A = cqlp_collection(ctx, CQL_TERM_FUNC, &L, &O, &C);
    A->text = F;
}
/* keyspace-qualified function: ks.f(args) */
term(A) ::= ident(K) DOT ident(F) LP(O) RP(C). {
    A = cqlp_collection(ctx, CQL_TERM_FUNC, NULL, &O, &C);
    A->text = F;
    A->fn_ks = K;
}
term(A) ::= ident(K) DOT ident(F) LP(O) terms(L) RP(C). {
    A = cqlp_collection(ctx, CQL_TERM_FUNC, &L, &O, &C);
    A->text = F;
    A->fn_ks = K;
}
/* token(values): the token of a partition key given by its values */
term(A) ::= TOKEN LP(O) terms(L) RP(C). {
    A = cqlp_collection(ctx, CQL_TERM_FUNC, &L, &O, &C);
    A->text = "token";
}
/* tuple literal (a, b, ...) */
term(A) ::= LP(O) terms(L) RP(C). { A = cqlp_collection(ctx, CQL_TERM_TUPLE, &L, &O, &C); }
/* arithmetic (Cassandra 5.0's termAddition / termMultiplication) */
term(A) ::= term(X) PLUS(O) term(Y).    { A = cqlp_binop(ctx, '+', X, Y, &O); }
term(A) ::= term(X) MINUS(O) term(Y).   { A = cqlp_binop(ctx, '-', X, Y, &O); }
term(A) ::= term(X) STAR(O) term(Y).    { A = cqlp_binop(ctx, '*', X, Y, &O); }
term(A) ::= term(X) SLASH(O) term(Y).   { A = cqlp_binop(ctx, '/', X, Y, &O); }
term(A) ::= term(X) PERCENT(O) term(Y). { A = cqlp_binop(ctx, '%', X, Y, &O); }
term(A) ::= MINUS(O) term(X). [UMINUS]  { A = cqlp_binop(ctx, '-', NULL, X, &O); }
/* a type hint: (int) ?, (bigint) 5, (list<int>) [1], (frozen<set<text>>) ? */
term(A) ::= LP(O) ident(T) RP term(X). [UMINUS] { A = cqlp_hint(ctx, T, X, &O); }
term(A) ::= LP(O) hinttype(T) RP term(X). [UMINUS] { A = cqlp_hint(ctx, T, X, &O); }

/* a parameterised type as a hint's text ("list<int>", "frozen<set<text>>") */
%type hinttype {const char *}
hinttype(A) ::= ident(N) LT typeparams(P) GT. { A = cqlp_type_text(ctx, cqlp_type(ctx, N, &P)); }
hinttype(A) ::= SET LT typeparams(P) GT.      { A = cqlp_type_text(ctx, cqlp_type(ctx, "set", &P)); }
hinttype(A) ::= FROZEN LT type(T) GT.         { T->frozen = true; A = cqlp_type_text(ctx, T); }

/* The terms that are also selectors: constants, markers, null and
 * collection / UDT literals (no function calls, no tuples). */
%type literal {cql_term *}
literal(A) ::= constant(A).
literal(A) ::= bind(A).
literal(A) ::= NULL(X). { A = cqlp_null(ctx, &X); }
literal(A) ::= LBRACKET(O) RBRACKET(C). { A = cqlp_collection(ctx, CQL_TERM_LIST, NULL, &O, &C); }
literal(A) ::= LBRACKET(O) terms(L) RBRACKET(C). {
    A = cqlp_collection(ctx, CQL_TERM_LIST, &L, &O, &C);
}
literal(A) ::= LBRACE(O) RBRACE(C). { A = cqlp_collection(ctx, CQL_TERM_MAP, NULL, &O, &C); }
literal(A) ::= LBRACE(O) terms(L) RBRACE(C). { A = cqlp_collection(ctx, CQL_TERM_SET, &L, &O, &C); }
/* UDT literal {f: a, g: b} (field names are identifiers; a map's keys are terms) */
literal(A) ::= LBRACE(O) ufterms(L) RBRACE(C). {
    A = cqlp_collection(ctx, CQL_TERM_UDT, &L.terms, &O, &C);
    A->fields = cqlp_alloc(ctx, sizeof(*A->fields) * (size_t)L.terms.n);
    int i = 0;
    for (cql_name_list *n = L.names.head; n; n = n->next)
        A->fields[i++] = n->name;
}
literal(A) ::= LBRACE(O) mapterms(L) RBRACE(C). {
    A = cqlp_collection(ctx, CQL_TERM_MAP, &L, &O, &C);
}

%include {
typedef struct cqlp_ufterms {
    cqlp_terms terms;
    cqlp_names names;
} cqlp_ufterms;
}
%type ufterms {cqlp_ufterms}
ufterms(A) ::= ident(F) COLON term(V). {
    memset(&A, 0, sizeof(A));
    cqlp_terms_add(ctx, &A.terms, V);
    A.names.head = A.names.tail = cqlp_name(ctx, F);
}
ufterms(A) ::= ufterms(A) COMMA ident(F) COLON term(V). {
    cqlp_terms_add(ctx, &A.terms, V);
    cql_name_list *x = cqlp_name(ctx, F);
    CQLP_APPEND(A.names, x);
}

/* map literal entries: keys and values alternate in the list */
%type mapterms {cqlp_terms}
mapterms(A) ::= term(K) COLON term(V). {
    memset(&A, 0, sizeof(A));
    cqlp_terms_add(ctx, &A, K);
    cqlp_terms_add(ctx, &A, V);
}
mapterms(A) ::= mapterms(A) COMMA term(K) COLON term(V). {
    cqlp_terms_add(ctx, &A, K);
    cqlp_terms_add(ctx, &A, V);
}

/* TTL, TIMESTAMP and LIMIT values: an integer or a marker. */
%type intval {cql_term *}
intval(A) ::= INTEGER(X). { A = cqlp_literal(ctx, HLN_LIT_INTEGER, &X); }
intval(A) ::= bind(A).

%type terms {cqlp_terms}
terms(A) ::= term(T). {
    memset(&A, 0, sizeof(A));
    cqlp_terms_add(ctx, &A, T);
}
terms(A) ::= terms(A) COMMA term(T). { cqlp_terms_add(ctx, &A, T); }

/* ---- WITH properties ------------------------------------------------- */
%type prop {cql_property *}
prop(A) ::= ident(N) EQ constant(V). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->name = N;
    A->value = V;
}
prop(A) ::= ident(N) EQ LBRACE mapents(M) RBRACE. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->name = N;
    A->map = M.head;
}
prop(A) ::= ident(N) EQ LBRACE RBRACE. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->name = N;
}

%type mapents {cqlp_map}
mapents(A) ::= mapent(E). { A.head = A.tail = E; }
mapents(A) ::= mapents(A) COMMA mapent(E). { CQLP_APPEND(A, E); }

%type mapent {cql_map_entry *}
mapent(A) ::= constant(K) COLON constant(V). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->key = K;
    A->value = V;
}

%type props {cqlp_props}
props(A) ::= prop(P). { A.head = A.tail = P; }
props(A) ::= props(A) AND prop(P). { CQLP_APPEND(A, P); }

/* ---- keyspaces, USE ---------------------------------------------------- */
cmd ::= CREATE KEYSPACE ifne(E) ident(N) WITH props(P). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_KEYSPACE);
    s->u.create_keyspace.name = N;
    s->u.create_keyspace.if_not_exists = E;
    s->u.create_keyspace.props = P.head;
}
cmd ::= DROP KEYSPACE ife(E) ident(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_KEYSPACE);
    s->u.drop.name.name = N;
    s->u.drop.if_exists = E;
}
cmd ::= USE ident(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_USE);
    s->u.use = N;
}

/* ---- CREATE TABLE / DROP TABLE ---------------------------------------- */
cmd ::= table_head LP tcols RP table_with.
table_head ::= CREATE TABLE ifne(E) qname(N). { cqlp_table_begin(ctx, E, N); }

/* "(a int, b int,)" and empty elements are accepted, as in Cassandra. */
tcols ::= tcol.
tcols ::= tcols COMMA.
tcols ::= tcols COMMA tcol.

tcol ::= ident(N) type(T) static_opt(S) pk_opt(P). { cqlp_table_column(ctx, N, T, S, P); }
tcol ::= PRIMARY KEY LP pkey(K) ckeys(C) RP.     { cqlp_table_pk(ctx, K.head, C.head); }

%type static_opt {bool}
static_opt(A) ::= .       { A = false; }
static_opt(A) ::= STATIC. { A = true; }

%type pk_opt {bool}
pk_opt(A) ::= .            { A = false; }
pk_opt(A) ::= PRIMARY KEY. { A = true; }

%type pkey {cqlp_names}
pkey(A) ::= ident(N).       { A.head = A.tail = cqlp_name(ctx, N); }
pkey(A) ::= LP names(L) RP. { A = L; }

%type ckeys {cqlp_names}
ckeys(A) ::= . { A.head = A.tail = NULL; }
ckeys(A) ::= ckeys(A) COMMA ident(N). {
    cql_name_list *x = cqlp_name(ctx, N);
    CQLP_APPEND(A, x);
}

table_with ::= .
table_with ::= WITH tprops.
tprops ::= tprop.
tprops ::= tprops AND tprop.
tprop ::= prop(P).        { cqlp_table_prop(ctx, P); }
tprop ::= COMPACT STORAGE. { ctx->ct->compact_storage = true; }
tprop ::= CLUSTERING ORDER BY LP corders RP.
corders ::= corder.
corders ::= corders COMMA corder.
corder ::= ident(N) ASC.  { cqlp_table_order(ctx, N, false); }
corder ::= ident(N) DESC. { cqlp_table_order(ctx, N, true); }

/* Types: a name with optional parameters; the analyzer decides which
 * exist. A number parameter (vector<float, 3>) becomes a type named "3". */
%type type {cql_typeref *}
type(A) ::= ident(N).                        { A = cqlp_type(ctx, N, NULL); }
type(A) ::= ident(K) DOT ident(N). {
    size_t n = strlen(K) + strlen(N) + 2;
    char *q = cqlp_alloc(ctx, n);
    snprintf(q, n, "%s.%s", K, N);
    A = cqlp_type(ctx, q, NULL);
}
type(A) ::= ident(N) LT typeparams(P) GT(G). {
    /* vector<t, n>: Cassandra's grammar wants the dimension */
    if (!strcmp(N, "vector") && P.n == 1) cqlp_reject_expecting(ctx, &G, TK_COMMA);
    A = cqlp_type(ctx, N, &P);
}
type(A) ::= SET LT typeparams(P) GT.         { A = cqlp_type(ctx, "set", &P); }
type(A) ::= FROZEN LT type(T) GT.            { A = T; A->frozen = true; }

%type typeparams {cqlp_types}
typeparams(A) ::= typeparam(T). {
    memset(&A, 0, sizeof(A));
    cqlp_types_add(ctx, &A, T);
}
typeparams(A) ::= typeparams(A) COMMA typeparam(T). { cqlp_types_add(ctx, &A, T); }

%type typeparam {cql_typeref *}
typeparam(A) ::= type(A).
typeparam(A) ::= INTEGER(X). { A = cqlp_type(ctx, cqlp_text(ctx, &X), NULL); }

cmd ::= DROP TABLE ife(E) qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_TABLE);
    s->u.drop.name = N;
    s->u.drop.if_exists = E;
}

/* ---- USING ------------------------------------------------------------- */
%type using_opt {cql_using}
using_opt(A) ::= .              { A.ttl = NULL; A.timestamp = NULL; }
using_opt(A) ::= USING uobjs(U). { A = U; }

%type uobjs {cql_using}
uobjs(A) ::= TTL intval(V).       { A.ttl = V; A.timestamp = NULL; }
uobjs(A) ::= TIMESTAMP intval(V). { A.ttl = NULL; A.timestamp = V; }
uobjs(A) ::= uobjs(A) AND TTL intval(V).       { A.ttl = V; }
uobjs(A) ::= uobjs(A) AND TIMESTAMP intval(V). { A.timestamp = V; }

/* ---- WHERE ------------------------------------------------------------- */
%type rels {cqlp_rels}
rels(A) ::= rel(R). { A.head = A.tail = R; }
rels(A) ::= rels(A) AND rel(R). { CQLP_APPEND(A, R); }

%type op {int}
op(A) ::= EQ. { A = CQL_OP_EQ; }
op(A) ::= LT. { A = CQL_OP_LT; }
op(A) ::= LE. { A = CQL_OP_LE; }
op(A) ::= GT. { A = CQL_OP_GT; }
op(A) ::= GE. { A = CQL_OP_GE; }
op(A) ::= NE. { A = CQL_OP_NE; }

%type rel {cql_relation *}
rel(A) ::= ident(C) CONTAINS term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_CONTAINS;
    A->term = T;
}
rel(A) ::= ident(C) CONTAINS KEY term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_CONTAINS_KEY;
    A->term = T;
}
rel(A) ::= ident(C) op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = (cql_op)O;
    A->term = T;
}
/* m[k] = v: a map entry (exec accepts = only, as Cassandra) */
rel(A) ::= ident(C) LBRACKET term(K) RBRACKET op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
    A->op = (cql_op)O;
    A->term = T;
}
rel(A) ::= ident(C) IN bind(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IN;
    A->term = T;
}
rel(A) ::= ident(C) IN LP terms(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_terms_array(ctx, &L);
    A->nin = L.n;
}
rel(A) ::= ident(C) IN LP RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_alloc(ctx, sizeof(*A->in_list));
}
/* (c1, c2) op (v1, v2): a multi-column relation on clustering columns */
rel(A) ::= LP names(C) RP op(O) LP terms(V) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->mcols = C.head;
    A->op = (cql_op)O;
    A->in_list = cqlp_terms_array(ctx, &V);
    A->nin = V.n;
}
/* (c1, c2) op ?: the whole tuple as one marker */
rel(A) ::= LP names(C) RP op(O) bind(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->mcols = C.head;
    A->op = (cql_op)O;
    A->term = T;
}
/* (c1, c2) IN ((v1, v2), ...), IN ?, IN (): a list of clustering prefixes;
 * Cassandra's grammar wants tuples or bind markers in the list, its
 * decision on "(" failing at a first value of another kind */
rel(A) ::= LP names(C) RP IN LP(P) terms(V) RP. {
    cql_term *first = V.head ? V.head->term : NULL;
    if (first && first->kind != CQL_TERM_TUPLE && first->kind != CQL_TERM_BIND)
        cqlp_reject_from(ctx, first->pos, P.pos);
    A = cqlp_alloc(ctx, sizeof(*A));
    A->mcols = C.head;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_terms_array(ctx, &V);
    A->nin = V.n;
}
rel(A) ::= LP names(C) RP IN bind(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->mcols = C.head;
    A->op = CQL_OP_IN;
    A->term = T;
}
rel(A) ::= LP names(C) RP IN LP RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->mcols = C.head;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_alloc(ctx, sizeof(*A->in_list));
}
/* token(a, b) > ?: a relation on the partition key's token */
rel(A) ::= ident(C) IS NOT NULL. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IS_NOT_NULL;
}
rel(A) ::= TOKEN LP names(L) RP op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->token_cols = L.head;
    A->op = (cql_op)O;
    A->term = T;
}

%type where {cql_relation *}
where(A) ::= WHERE rels(R). { A = R.head; }

/* ---- INSERT ------------------------------------------------------------ */
%type dml {cql_stmt *}
cmd ::= dml.

dml(A) ::= INSERT INTO qname(T) LP names(C) RP VALUES LP terms(V) RP ifne(E) using_opt(U). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_INSERT);
    cql_insert *q = &s->u.insert;
    q->table = T;
    q->columns = C.head;
    q->values = cqlp_terms_array(ctx, &V);
    q->nvalues = V.n;
    q->if_not_exists = E;
    q->using = U;
    A = s;
}
/* INSERT JSON: the document is values[0]; columns stay NULL. */
dml(A) ::= INSERT INTO qname(T) JSON jsonval(J) jdefault(D) ifne(E) using_opt(U). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_INSERT);
    cql_insert *q = &s->u.insert;
    q->table = T;
    q->json = true;
    q->values = cqlp_alloc(ctx, sizeof(*q->values));
    q->values[0] = J;
    q->nvalues = 1;
    q->json_default_unset = D;
    q->if_not_exists = E;
    q->using = U;
    A = s;
}
/* DEFAULT NULL (the default) or DEFAULT UNSET: what columns the document
 * leaves out become */
%type jdefault {bool}
jdefault(A) ::= .                    { A = false; }
jdefault(A) ::= DEFAULT NULL.        { A = false; }
jdefault(A) ::= DEFAULT ident(W). {
    A = true;
    if (strcmp(W, "unset") != 0) cqlp_fail(ctx, HLN_ESYNTAX, "line 1:0 no viable alternative at input '%s'", W);
}
%type jsonval {cql_term *}
jsonval(A) ::= STRING(X). { A = cqlp_literal(ctx, HLN_LIT_STRING, &X); }
jsonval(A) ::= bind(A).

/* ---- UPDATE ------------------------------------------------------------ */
%type assigns {cqlp_assigns}
assigns(A) ::= assign(X). { A.head = A.tail = X; }
assigns(A) ::= assigns(A) COMMA assign(X). { CQLP_APPEND(A, X); }

%type assign {cql_assignment *}
assign(A) ::= ident(C) EQ term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->value = T;
}
assign(A) ::= ident(C) DOT ident(F) EQ term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->field = F;
    A->value = T;
}
assign(A) ::= ident(C) EQ ident(O) PLUS term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_ASSIGN_ADD;
    A->other = O;
    A->value = T;
}
assign(A) ::= ident(C) EQ term(T) PLUS ident(O). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_ASSIGN_PREPEND;
    A->other = O;
    A->value = T;
}
assign(A) ::= ident(C) EQ ident(O) MINUS term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_ASSIGN_SUB;
    A->other = O;
    A->value = T;
}
assign(A) ::= ident(C) LBRACKET term(K) RBRACKET EQ term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_ASSIGN_ELEM;
    A->key = K;
    A->value = T;
}

dml(A) ::= UPDATE qname(T) using_opt(U) SET assigns(L) where(W) ifc(E). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_UPDATE);
    cql_update *q = &s->u.update;
    q->table = T;
    q->using = U;
    q->set = L.head;
    q->where = W;
    q->if_exists = E.exists;
    q->conds = E.conds;
    A = s;
}

/* IF EXISTS, or IF conditions (lightweight transactions) */
%type ifc {cqlp_ifc}
ifc(A) ::= .              { A.exists = false; A.conds = NULL; }
ifc(A) ::= IF EXISTS.     { A.exists = true; A.conds = NULL; }
ifc(A) ::= IF conds(L).   { A.exists = false; A.conds = L.head; }

%type conds {cqlp_rels}
conds(A) ::= cond(X). { A.head = A.tail = X; }
conds(A) ::= conds(A) AND cond(X). { CQLP_APPEND(A, X); }

%type cond {cql_relation *}
cond(A) ::= ident(C) op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = (cql_op)O;
    A->term = T;
}
cond(A) ::= ident(C) DOT ident(F) op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->field = F;
    A->op = (cql_op)O;
    A->term = T;
}
cond(A) ::= ident(C) DOT ident(F) IN LP terms(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->field = F;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_terms_array(ctx, &L);
    A->nin = L.n;
}
cond(A) ::= ident(C) LBRACKET term(K) RBRACKET op(O) term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
    A->op = (cql_op)O;
    A->term = T;
}
cond(A) ::= ident(C) LBRACKET term(K) RBRACKET IN LP terms(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_terms_array(ctx, &L);
    A->nin = L.n;
}
cond(A) ::= ident(C) IN LP terms(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IN;
    A->in_list = cqlp_terms_array(ctx, &L);
    A->nin = L.n;
}
cond(A) ::= ident(C) IN bind(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_IN;
    A->term = T;
}
cond(A) ::= ident(C) CONTAINS term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_CONTAINS;
    A->term = T;
}
cond(A) ::= ident(C) CONTAINS KEY term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->op = CQL_OP_CONTAINS_KEY;
    A->term = T;
}

/* ---- DELETE ------------------------------------------------------------ */
%type delcols {cql_deletion *}
delcols(A) ::= .         { A = NULL; }
delcols(A) ::= dels(L). { A = L.head; }

%type dels {cqlp_dels}
dels(A) ::= del(X). { A.head = A.tail = X; }
dels(A) ::= dels(A) COMMA del(X). { CQLP_APPEND(A, X); }

%type del {cql_deletion *}
del(A) ::= ident(C). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
}
del(A) ::= ident(C) DOT ident(F). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->field = F;
}
del(A) ::= ident(C) LBRACKET term(K) RBRACKET. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->key = K;
}

/* DELETE takes USING TIMESTAMP only, as in Cassandra. */
%type dusing {cql_term *}
dusing(A) ::= .                      { A = NULL; }
dusing(A) ::= USING TIMESTAMP intval(V). { A = V; }

dml(A) ::= DELETE delcols(C) FROM qname(T) dusing(U) where(W) ifc(E). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DELETE);
    cql_delete *q = &s->u.del;
    q->table = T;
    q->columns = C;
    q->using.timestamp = U;
    q->where = W;
    q->if_exists = E.exists;
    q->conds = E.conds;
    A = s;
}

/* ---- BEGIN BATCH ---------------------------------------------------------- */
/* BEGIN [UNLOGGED | COUNTER] BATCH [USING TIMESTAMP t] (dml [;])* APPLY
 * BATCH. Each statement's reduction set ctx->stmt; the batch's, reduced
 * last, sets it to the batch. Markers are numbered across the batch. */
cmd ::= BEGIN bkind(K) BATCH using_opt(U) bstmts(L) APPLY BATCH. {
    cql_stmt *s = cqlp_stmt(ctx, CQL_BATCH);
    cql_batch *b = &s->u.batch;
    b->type = K;
    b->using = U;
    b->nstmts = L.n;
    if (L.n) {
        b->stmts = cqlp_alloc(ctx, sizeof(*b->stmts) * (size_t)L.n);
        int i = 0;
        for (cqlp_bnode *x = L.head; x; x = x->next)
            b->stmts[i++] = x->stmt;
    }
}

%type bkind {int}
bkind(A) ::= .         { A = 0; }
bkind(A) ::= UNLOGGED. { A = 1; }
bkind(A) ::= ID(X). {
    /* Cassandra matches BATCH after its optional UNLOGGED / COUNTER */
    if (X.n != 7 || strncasecmp(X.z, "counter", 7) != 0) {
        cqlp_reject_expecting(ctx, &X, TK_BATCH);
        ctx->lookahead_shown = false;
    }
    A = 2;
}

%type bstmts {cqlp_bstmts}
bstmts(A) ::= . { memset(&A, 0, sizeof(A)); }
bstmts(A) ::= bstmts(A) dml(S) bsemi. {
    cqlp_bnode *x = cqlp_alloc(ctx, sizeof(*x));
    x->stmt = S;
    CQLP_APPEND(A, x);
    A.n++;
}
bsemi ::= .
bsemi ::= SEMI.

/* ---- SELECT ------------------------------------------------------------ */
/* JSON / DISTINCT: parse.c turns them into identifiers when they are in
 * fact column names ("SELECT json FROM t"), as Cassandra's predicates do. */
%type selflags {int}
selflags(A) ::= .              { A = 0; }
selflags(A) ::= JSON.          { A = 1; }
selflags(A) ::= DISTINCT.      { A = 2; }
selflags(A) ::= JSON DISTINCT. { A = 3; }

%type selection {cqlp_sels}
selection(A) ::= STAR.        { A.head = A.tail = NULL; }
selection(A) ::= sellist(A).

%type sellist {cqlp_sels}
sellist(A) ::= selector(X). { A.head = A.tail = X; }
sellist(A) ::= sellist(A) COMMA selector(X). { CQLP_APPEND(A, X); }

%type selector {cql_selector *}
selector(A) ::= selexpr(A).
selector(A) ::= selexpr(X) AS ident(N). { A = X; A->alias = N; }

/* A selector expression (Cassandra 5.0's unaliasedSelector): a column,
 * c[elem], c.field, a function call whose arguments are selectors
 * (nested calls, ks.f(...)), CAST(s AS type), arithmetic, a parenthesised
 * selector, or a literal. The analyzer decides which functions exist. */
%type selexpr {cql_selector *}
selexpr(A) ::= selatom(A).
selexpr(A) ::= selexpr(X) PLUS selexpr(Y).    { A = cqlp_selop(ctx, '+', X, Y); }
selexpr(A) ::= selexpr(X) MINUS selexpr(Y).   { A = cqlp_selop(ctx, '-', X, Y); }
selexpr(A) ::= selexpr(X) STAR selexpr(Y).    { A = cqlp_selop(ctx, '*', X, Y); }
selexpr(A) ::= selexpr(X) SLASH selexpr(Y).   { A = cqlp_selop(ctx, '/', X, Y); }
selexpr(A) ::= selexpr(X) PERCENT selexpr(Y). { A = cqlp_selop(ctx, '%', X, Y); }
selexpr(A) ::= MINUS selexpr(X). [UMINUS]     { A = cqlp_selop(ctx, 'n', X, NULL); }

%type selatom {cql_selector *}
selatom(A) ::= ident(C). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
}
selatom(A) ::= ident(C) LBRACKET term(K) RBRACKET. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
}
/* element slices c[a..b], c[a..], c[..b] of sets and maps */
selatom(A) ::= ident(C) LBRACKET term(K) DOT DOT term(H) RBRACKET. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
    A->elem_hi = H;
    A->slice = true;
}
selatom(A) ::= ident(C) LBRACKET term(K) DOT DOT RBRACKET. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem = K;
    A->slice = true;
}
selatom(A) ::= ident(C) LBRACKET DOT DOT term(H) RBRACKET. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->elem_hi = H;
    A->slice = true;
}
selatom(A) ::= ident(C) DOT ident(F). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->field = F;
}
selatom(A) ::= fname(F) LP RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->func = F.name;
    A->func_ks = F.ks;
}
selatom(A) ::= fname(F) LP STAR RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->func = F.name;
    A->func_ks = F.ks;
    A->star_arg = true;
}
selatom(A) ::= fname(F) LP selargs(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->func = F.name;
    A->func_ks = F.ks;
    A->args = L.head;
}
/* writetime(c), writetime(c[k]), maxwritetime(c), maxwritetime(c[k]), ttl(c), ttl(c[k])
 * (parse.c retags the names when a '(' follows them in a selection) */
selatom(A) ::= WRITETIME LP ident(C) optelem(K) RP. { A = cqlp_selfn(ctx, "writetime", C, K); }
selatom(A) ::= MAXWRITETIME LP ident(C) optelem(K) RP. {
    A = cqlp_selfn(ctx, "maxwritetime", C, K);
}
selatom(A) ::= TTLFN LP ident(C) optelem(K) RP. { A = cqlp_selfn(ctx, "ttl", C, K); }
/* the optional [k] of writetime(c[k]): an empty rule, so that after c
 * anything but '[' is "expecting ')'" as in Cassandra's parser */
%type optelem {cql_term *}
optelem(A) ::= . { A = NULL; }
optelem(A) ::= LBRACKET term(K) RBRACKET. { A = K; }
selatom(A) ::= TOKEN LP RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->func = "token";
}
selatom(A) ::= TOKEN LP selargs(L) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->func = "token";
    A->args = L.head;
}
selatom(A) ::= CAST LP selexpr(X) AS casttype(T) RP. {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->cast = T;
    A->args = X;
}
selatom(A) ::= LP selexpr(X) RP. {
    A = X;
    A->paren = true;
}
/* a type hint on a constant: (int) 1 (the parenthesised name is the type) */
selatom(A) ::= LP(O) selexpr(X) RP literal(T). {
    if (!X->column || X->elem || X->field || X->slice || X->paren) cqlp_reject(ctx, &O);
    A = cqlp_alloc(ctx, sizeof(*A));
    A->term = cqlp_hint(ctx, X->column, T, &O);
}
selatom(A) ::= LP(O) hinttype(H) RP literal(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->term = cqlp_hint(ctx, H, T, &O);
}
selatom(A) ::= literal(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->term = T;
}

/* CAST's target: a native type name (anything else is refused at it) */
%type casttype {const char *}
casttype(A) ::= ID(X). { A = cqlp_cast_type(ctx, &X); }

%type fname {cql_qname}
fname(A) ::= ident(N). { A.ks = NULL; A.name = N; }
fname(A) ::= ident(K) DOT ident(N). { A.ks = K; A.name = N; }

%type selargs {cqlp_sels}
selargs(A) ::= selexpr(X). { A.head = A.tail = X; }
selargs(A) ::= selargs(A) COMMA selexpr(X). { CQLP_APPEND(A, X); }

%type where_opt {cql_relation *}
where_opt(A) ::= .         { A = NULL; }
where_opt(A) ::= where(W). { A = W; }

%type order_opt {cql_order *}
order_opt(A) ::= .                  { A = NULL; }
order_opt(A) ::= ORDER BY orders(L). { A = L.head; }

%type orders {cqlp_orders}
orders(A) ::= order(X). { A.head = A.tail = X; }
orders(A) ::= orders(A) COMMA order(X). { CQLP_APPEND(A, X); }

%type order {cql_order *}
order(A) ::= ident(C) dir(D). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->desc = D;
}
%type dir {bool}
dir(A) ::= .     { A = false; }
dir(A) ::= ASC.  { A = false; }
dir(A) ::= DESC. { A = true; }
order(A) ::= ident(C) ANN OF term(T). {
    A = cqlp_alloc(ctx, sizeof(*A));
    A->column = C;
    A->ann = T;
}

%type ppl_opt {cql_term *}
ppl_opt(A) ::= .                           { A = NULL; }
ppl_opt(A) ::= PER PARTITION LIMIT intval(V). { A = V; }

%type limit_opt {cql_term *}
limit_opt(A) ::= .               { A = NULL; }
limit_opt(A) ::= LIMIT intval(V). { A = V; }

%type allow_opt {bool}
allow_opt(A) ::= .               { A = false; }
allow_opt(A) ::= ALLOW FILTERING. { A = true; }

%type group_opt {cql_name_list *}
group_opt(A) ::= .                  { A = NULL; }
group_opt(A) ::= GROUP BY names(L). { A = L.head; }

cmd ::= SELECT selflags(F) selection(L) FROM qname(T) where_opt(W) group_opt(G) order_opt(O)
        ppl_opt(P) limit_opt(M) allow_opt(AF). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_SELECT);
    cql_select *q = &s->u.select;
    q->json = (F & 1) != 0;
    q->distinct = (F & 2) != 0;
    q->star = L.head == NULL;
    q->selectors = L.head;
    q->table = T;
    q->where = W;
    q->order_by = O;
    q->group_by = G;
    q->per_partition_limit = P;
    q->limit = M;
    q->allow_filtering = AF;
}

/* ---- roles and permissions -------------------------------------------- */
/* Role names: identifiers fold to lower case; quoted names and strings
 * keep theirs. The USER forms keep an identifier's case and refuse quoted
 * names, as Cassandra's `username` rule does. */
%type rolename {const char *}
rolename(A) ::= ident(N).  { A = N; }
rolename(A) ::= STRING(X). { A = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text; }

%type username {const char *}
username(A) ::= ID(X).     { A = cqlp_text(ctx, &X); }
username(A) ::= STRING(X). { A = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text; }
username ::= QUOTED. {
    cqlp_fail(ctx, HLN_ESYNTAX, "Quoted strings are are not supported for user names and USER "
                                "is deprecated, please use ROLE");
}

%type roleopt {cql_role_opts}
roleopt(A) ::= PASSWORD EQ STRING(X). {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.password = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text;
}
roleopt(A) ::= HASHED PASSWORD EQ STRING(X). {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.hashed_password = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text;
}
roleopt(A) ::= LOGIN EQ BOOL(X). {
    memset(&A, 0, sizeof(A));
    A.superuser = -1;
    A.login = (X.z[0] | 0x20) == 't';
}
roleopt(A) ::= SUPERUSER EQ BOOL(X). {
    memset(&A, 0, sizeof(A));
    A.login = -1;
    A.superuser = (X.z[0] | 0x20) == 't';
}
roleopt(A) ::= OPTIONS EQ LBRACE mapents RBRACE. {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.has_options = true;
}
roleopt(A) ::= OPTIONS EQ LBRACE RBRACE. {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.has_options = true;
}

/* Each option at most once: "Multiple definition for property 'LOGIN'". */
%type roleopts {cql_role_opts}
roleopts(A) ::= roleopt(A).
roleopts(A) ::= roleopts(A) AND roleopt(B). {
    const char *dup = NULL;
    if (B.password) { if (A.password) dup = "PASSWORD"; A.password = B.password; }
    if (B.hashed_password) {
        if (A.hashed_password) dup = "HASHED_PASSWORD";
        A.hashed_password = B.hashed_password;
    }
    if (B.login >= 0) { if (A.login >= 0) dup = "LOGIN"; A.login = B.login; }
    if (B.superuser >= 0) { if (A.superuser >= 0) dup = "SUPERUSER"; A.superuser = B.superuser; }
    if (B.has_options) { if (A.has_options) dup = "OPTIONS"; A.has_options = true; }
    if (dup) cqlp_fail(ctx, HLN_ESYNTAX, "Multiple definition for property '%s'", dup);
}

%type roleopts_opt {cql_role_opts}
roleopts_opt(A) ::= . {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
}
roleopts_opt(A) ::= WITH roleopts(O). { A = O; }

cmd ::= CREATE ROLE ifne(E) rolename(N) roleopts_opt(O). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
    s->u.role.opts = O;
}
cmd ::= ALTER ROLE ife(E) rolename(N) roleopts_opt(O). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
    s->u.role.opts = O;
}
cmd ::= DROP ROLE ife(E) rolename(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
}

/* The legacy USER forms: CREATE USER u [WITH [HASHED] PASSWORD 'p']
 * [SUPERUSER | NOSUPERUSER] makes a role with LOGIN. */
%type userpw {cql_role_opts}
userpw(A) ::= . {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
}
userpw(A) ::= WITH PASSWORD STRING(X). {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.password = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text;
}
userpw(A) ::= WITH HASHED PASSWORD STRING(X). {
    memset(&A, 0, sizeof(A));
    A.login = A.superuser = -1;
    A.hashed_password = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text;
}

%type usersuper {int}
usersuper(A) ::= .            { A = -1; }
usersuper(A) ::= SUPERUSER.   { A = 1; }
usersuper(A) ::= NOSUPERUSER. { A = 0; }

cmd ::= CREATE USER ifne(E) username(N) userpw(O) usersuper(S). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
    s->u.role.user_form = true;
    s->u.role.opts = O;
    s->u.role.opts.login = 1;
    s->u.role.opts.superuser = S == 1;
}
cmd ::= ALTER USER ife(E) username(N) userpw(O) usersuper(S). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
    s->u.role.user_form = true;
    s->u.role.opts = O;
    s->u.role.opts.superuser = S;
}
cmd ::= DROP USER ife(E) username(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_ROLE);
    s->u.role.name = N;
    s->u.role.if_exists = E;
    s->u.role.user_form = true;
}

%type listof {const char *}
listof(A) ::= .                { A = NULL; }
listof(A) ::= OF rolename(N).  { A = N; }

%type norec {bool}
norec(A) ::= .            { A = true; }
norec(A) ::= NORECURSIVE. { A = false; }

cmd ::= LIST ROLES listof(R) norec(C). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_LIST_ROLES);
    s->u.grant.grantee = R;
    s->u.grant.recursive = C;
}
cmd ::= LIST USERS. {
    cql_stmt *s = cqlp_stmt(ctx, CQL_LIST_ROLES);
    s->u.grant.recursive = true;
    s->u.grant.users = true;
}

/* Permissions (Cassandra's permissionOrAll). */
%type perm {unsigned}
perm(A) ::= CREATE.        { A = CQL_PERM_CREATE; }
perm(A) ::= ALTER.         { A = CQL_PERM_ALTER; }
perm(A) ::= DROP.          { A = CQL_PERM_DROP; }
perm(A) ::= SELECT.        { A = CQL_PERM_SELECT; }
perm(A) ::= MODIFY.        { A = CQL_PERM_MODIFY; }
perm(A) ::= AUTHORIZE.     { A = CQL_PERM_AUTHORIZE; }
perm(A) ::= DESCRIBE.      { A = CQL_PERM_DESCRIBE; }
perm(A) ::= EXECUTE.       { A = CQL_PERM_EXECUTE; }
perm(A) ::= UNMASK.        { A = CQL_PERM_UNMASK; }
perm(A) ::= SELECT_MASKED. { A = CQL_PERM_SELECT_MASKED; }

%type perms {unsigned}
perms(A) ::= ALL.                { A = CQL_PERM_ALL; }
perms(A) ::= ALL PERMISSIONS.    { A = CQL_PERM_ALL; }
perms(A) ::= perm(A).
perms(A) ::= perm(A) PERMISSION.

%type resource {cql_resource}
resource(A) ::= ALL KEYSPACES.     { memset(&A, 0, sizeof(A)); A.kind = CQL_RES_ALL_KEYSPACES; }
resource(A) ::= KEYSPACE ident(N). {
    memset(&A, 0, sizeof(A));
    A.kind = CQL_RES_KEYSPACE;
    A.name.name = N;
}
resource(A) ::= TABLE qname(N).    { A.kind = CQL_RES_TABLE; A.name = N; }
resource(A) ::= qname(N).          { A.kind = CQL_RES_TABLE; A.name = N; }
resource(A) ::= ALL ROLES.         { memset(&A, 0, sizeof(A)); A.kind = CQL_RES_ALL_ROLES; }
resource(A) ::= ROLE rolename(N).  {
    memset(&A, 0, sizeof(A));
    A.kind = CQL_RES_ROLE;
    A.name.name = N;
}

cmd ::= GRANT perms(P) ON resource(R) TO rolename(G). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_GRANT_PERMISSIONS);
    s->u.grant.perms = P;
    s->u.grant.all = P == CQL_PERM_ALL;
    s->u.grant.has_resource = true;
    s->u.grant.resource = R;
    s->u.grant.grantee = G;
}
cmd ::= REVOKE perms(P) ON resource(R) FROM rolename(G). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_REVOKE_PERMISSIONS);
    s->u.grant.perms = P;
    s->u.grant.all = P == CQL_PERM_ALL;
    s->u.grant.has_resource = true;
    s->u.grant.resource = R;
    s->u.grant.grantee = G;
}
cmd ::= GRANT rolename(R) TO rolename(G). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_GRANT_ROLE);
    s->u.grant.role = R;
    s->u.grant.grantee = G;
}
cmd ::= REVOKE rolename(R) FROM rolename(G). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_REVOKE_ROLE);
    s->u.grant.role = R;
    s->u.grant.grantee = G;
}

%type liston {cql_resource *}
liston(A) ::= .                { A = NULL; }
liston(A) ::= ON resource(R).  { A = cqlp_alloc(ctx, sizeof(*A)); *A = R; }

cmd ::= LIST perms(P) liston(R) listof(G) norec(C). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_LIST_PERMISSIONS);
    s->u.grant.perms = P;
    s->u.grant.all = P == CQL_PERM_ALL;
    if (R) {
        s->u.grant.has_resource = true;
        s->u.grant.resource = *R;
    }
    s->u.grant.grantee = G;
    s->u.grant.recursive = C;
}

/* ---- DESCRIBE ----------------------------------------------------------
 * Cassandra 4.0+ answers DESCRIBE itself (cqlsh 6.x sends it as a query).
 * "schema" lexes as KEYSPACE (CREATE SCHEMA is CREATE KEYSPACE), so the
 * token's text tells DESCRIBE SCHEMA from DESCRIBE KEYSPACE. */
descw ::= DESCRIBE.
descw ::= DESC.

%include {
static bool cqlp_is_schema(const cql_token *t)
{
    return t->n == 6 && strncasecmp(t->z, "schema", 6) == 0;
}

static cql_describe *cqlp_describe(cqlp_ctx *ctx, cql_describe_kind what)
{
    cql_stmt *s = cqlp_stmt(ctx, CQL_DESCRIBE);
    s->u.describe.what = what;
    return &s->u.describe;
}
}

cmd ::= descw KEYSPACES. { cqlp_describe(ctx, CQL_DESC_KEYSPACES); }
cmd ::= descw TABLES.    { cqlp_describe(ctx, CQL_DESC_TABLES); }
cmd ::= descw CLUSTER.   { cqlp_describe(ctx, CQL_DESC_CLUSTER); }
cmd ::= descw KEYSPACE(X). {
    cqlp_describe(ctx, cqlp_is_schema(&X) ? CQL_DESC_SCHEMA : CQL_DESC_KEYSPACE);
}
cmd ::= descw KEYSPACE(X) ident(N). {
    if (cqlp_is_schema(&X))
        cqlp_fail(ctx, HLN_ESYNTAX, "line 1:%d mismatched input '%s' expecting EOF", X.pos + X.n + 1, N);
    cqlp_describe(ctx, CQL_DESC_KEYSPACE)->name.name = N;
}
cmd ::= descw FULL KEYSPACE(X). {
    if (!cqlp_is_schema(&X))
        cqlp_fail(ctx, HLN_ESYNTAX, "line 1:%d no viable alternative at input '%.*s'", X.pos, X.n, X.z);
    cqlp_describe(ctx, CQL_DESC_FULL_SCHEMA);
}
cmd ::= descw INDEX qname(N). { cqlp_describe(ctx, CQL_DESC_INDEX)->name = N; }
cmd ::= descw MATERIALIZED VIEW qname(N). { cqlp_describe(ctx, CQL_DESC_VIEW)->name = N; }
cmd ::= descw TABLE qname(N). { cqlp_describe(ctx, CQL_DESC_TABLE)->name = N; }
cmd ::= descw qname(N).       { cqlp_describe(ctx, CQL_DESC_GENERIC)->name = N; }
/* DESCRIBE TYPE [ks.]t ("type" is an unreserved word: ID); DESCRIBE TYPES
   arrives as the generic form, which describe.c reads as TYPES */
cmd ::= descw ID(K) qname(N). {
    cqlp_want_type(ctx, &K);
    cqlp_describe(ctx, CQL_DESC_TYPE)->name = N;
}

/* ---- ALTER TABLE, ALTER KEYSPACE, TRUNCATE -----------------------------
 * As Cassandra 5.0's Parser.g (alterTableStatement, alterKeyspaceStatement,
 * truncateStatement). ADD, RENAME and TRUNCATE are reserved words there and
 * here. The head (ALTER TABLE [IF EXISTS] name) is reduced first, so each
 * alteration appends straight into the statement (ctx->stmt). */
%include {
static cql_alter_table *cqlp_alter(cqlp_ctx *ctx)
{
    return &ctx->stmt->u.alter_table;
}
}

cmd ::= alter_head alteration.
alter_head ::= ALTER TABLE ife(E) qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_TABLE);
    s->u.alter_table.if_exists = E;
    s->u.alter_table.name = N;
}

alteration ::= ADD ifne(E) acol. { cqlp_alter(ctx)->kind = CQL_ALTER_ADD; cqlp_alter(ctx)->if_col = E; }
alteration ::= ADD ifne(E) LP acols RP. {
    cqlp_alter(ctx)->kind = CQL_ALTER_ADD;
    cqlp_alter(ctx)->if_col = E;
}
acols ::= acol.
acols ::= acols COMMA acol.
acol ::= ident(N) type(T) static_opt(S). {
    cql_alter_table *a = cqlp_alter(ctx);
    cql_column_def *d = cqlp_alloc(ctx, sizeof(*d));
    d->name = N;
    d->type = T;
    d->is_static = S;
    cql_column_def **pp = &a->add;
    while (*pp) pp = &(*pp)->next;
    *pp = d;
}

alteration ::= DROP ife(E) dnames(L) dts(T). {
    cql_alter_table *a = cqlp_alter(ctx);
    a->kind = CQL_ALTER_DROP;
    a->if_col = E;
    a->drop = L.head;
    a->drop_ts = T;
}
%type dnames {cqlp_names}
dnames(A) ::= ident(N).       { A.head = A.tail = cqlp_name(ctx, N); }
dnames(A) ::= LP names(L) RP. { A = L; }
%type dts {const char *}
dts(A) ::= .                            { A = NULL; }
dts(A) ::= USING TIMESTAMP INTEGER(X).  { A = cqlp_text(ctx, &X); }

alteration ::= DROP COMPACT STORAGE. { cqlp_alter(ctx)->kind = CQL_ALTER_DROP_COMPACT; }

alteration ::= WITH aprops(P). {
    cqlp_alter(ctx)->kind = CQL_ALTER_OPTIONS;
    cqlp_alter(ctx)->props = P.head;
}
%type aprops {cqlp_props}
aprops(A) ::= prop(P). { A.head = A.tail = P; }
aprops(A) ::= aprops(A) AND prop(P). { CQLP_APPEND(A, P); }

alteration ::= RENAME ife(E) renames. {
    cqlp_alter(ctx)->kind = CQL_ALTER_RENAME;
    cqlp_alter(ctx)->if_col = E;
}
renames ::= rename.
renames ::= renames AND rename.
rename ::= ident(F) TO ident(T). {
    cql_alter_table *a = cqlp_alter(ctx);
    cql_name_list **pf = &a->from, **pt = &a->to;
    while (*pf) pf = &(*pf)->next;
    while (*pt) pt = &(*pt)->next;
    *pf = cqlp_name(ctx, F);
    *pt = cqlp_name(ctx, T);
}

/* ALTER c TYPE t: "type" is an unreserved word, so it arrives as ID */
alteration ::= ALTER ident(C) ID(K) type. {
    if (K.n != 4 || strncasecmp(K.z, "type", 4) != 0)
        cqlp_fail(ctx, HLN_ESYNTAX, "line 1:%d no viable alternative at input '%.*s'", K.pos,
                  K.n, K.z);
    cql_alter_table *a = cqlp_alter(ctx);
    a->kind = CQL_ALTER_TYPE;
    a->drop = cqlp_name(ctx, C);
}

/* ---- CREATE / ALTER / DROP TYPE ----------------------------------------
 * "type" is an unreserved word, so it arrives as ID. */
%include {
static void cqlp_want_type(cqlp_ctx *ctx, const cql_token *k)
{
    if (k->n != 4 || strncasecmp(k->z, "type", 4) != 0)
        cqlp_fail(ctx, HLN_ESYNTAX, "line 1:%d no viable alternative at input '%.*s'", k->pos,
                  k->n, k->z);
}
}
cmd ::= type_head LP ufields RP.
type_head ::= CREATE ID(K) ifne(E) qname(N). {
    cqlp_want_type(ctx, &K);
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_TYPE);
    ctx->ct = &s->u.create_table;
    ctx->ct->name = N;
    ctx->ct->if_not_exists = E;
}
ufields ::= ufield.
ufields ::= ufields COMMA ufield.
ufield ::= ident(N) type(T). { cqlp_table_column(ctx, N, T, false, false); }

cmd ::= alter_type_head alteration.
alter_type_head ::= ALTER ID(K) ife(E) qname(N). {
    cqlp_want_type(ctx, &K);
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_UDT);
    s->u.alter_table.if_exists = E;
    s->u.alter_table.name = N;
}

cmd ::= DROP ID(K) ife(E) qname(N). {
    cqlp_want_type(ctx, &K);
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_TYPE);
    s->u.drop.name = N;
    s->u.drop.if_exists = E;
}

cmd ::= ALTER KEYSPACE(X) ife(E) ident(N) WITH props(P). {
    (void)X;
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_KEYSPACE);
    s->u.create_keyspace.name = N;
    s->u.create_keyspace.if_not_exists = E;
    s->u.create_keyspace.props = P.head;
}

cmd ::= TRUNCATE qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_TRUNCATE);
    s->u.drop.name = N;
}
cmd ::= TRUNCATE TABLE qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_TRUNCATE);
    s->u.drop.name = N;
}

/* ---- CREATE INDEX / DROP INDEX -----------------------------------------
 * As Cassandra 5.0's Parser.g (createIndexStatement, dropIndexStatement):
 * CREATE [CUSTOM] INDEX [IF NOT EXISTS] [name] ON [ks.]t (targets)
 * [USING 'class'] [WITH properties]. The index name is not qualified
 * there (the keyspace is the table's). */
%type icustom {bool}
icustom(A) ::= .       { A = false; }
icustom(A) ::= CUSTOM. { A = true; }
%type iname {const char *}
iname(A) ::= .         { A = NULL; }
iname(A) ::= ident(A).
/* ks.name: Cassandra's idxName takes no keyspace (ANTLR's wording) */
iname(A) ::= ident DOT(D) ident. {
    A = NULL;
    cqlp_fail(ctx, HLN_ESYNTAX, "line 1:%d mismatched input '.' expecting K_ON (%.*s[.]...)",
              D.pos, D.pos, ctx->src);
}
%type iusing {const char *}
iusing(A) ::= .                { A = NULL; }
iusing(A) ::= USING STRING(X). { A = cqlp_literal(ctx, HLN_LIT_STRING, &X)->text; }
%type iwith {cql_property *}
iwith(A) ::= .              { A = NULL; }
iwith(A) ::= WITH props(P). { A = P.head; }
%include {
typedef struct { cql_index_col *head, *tail; } cqlp_itargets;
static cql_index_col *cqlp_itarget(cqlp_ctx *ctx, const char *col, cql_index_target t)
{
    cql_index_col *x = cqlp_alloc(ctx, sizeof(*x));
    x->column = col;
    x->target = t;
    return x;
}
}
%type itarget {cql_index_col *}
itarget(A) ::= ident(C).                { A = cqlp_itarget(ctx, C, CQL_IXT_SIMPLE); }
itarget(A) ::= VALUES LP ident(C) RP.   { A = cqlp_itarget(ctx, C, CQL_IXT_VALUES); }
/* columns named keys / values (unreserved words) */
itarget(A) ::= KEYS.   { A = cqlp_itarget(ctx, "keys", CQL_IXT_SIMPLE); }
itarget(A) ::= VALUES. { A = cqlp_itarget(ctx, "values", CQL_IXT_SIMPLE); }
itarget(A) ::= KEYS LP ident(C) RP.     { A = cqlp_itarget(ctx, C, CQL_IXT_KEYS); }
itarget(A) ::= ENTRIES LP ident(C) RP.  { A = cqlp_itarget(ctx, C, CQL_IXT_ENTRIES); }
itarget(A) ::= FULL LP ident(C) RP.     { A = cqlp_itarget(ctx, C, CQL_IXT_FULL); }
%type itargets {cqlp_itargets}
itargets(A) ::= . { A.head = A.tail = NULL; }
itargets(A) ::= itargetl(A).
%type itargetl {cqlp_itargets}
itargetl(A) ::= itarget(X). { A.head = A.tail = X; }
itargetl(A) ::= itargetl(A) COMMA itarget(X). { CQLP_APPEND(A, X); }
cmd ::= CREATE icustom(C) INDEX ifne(E) iname(N) ON qname(T) LP itargets(L) RP iusing(U) iwith(W). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_CREATE_INDEX);
    cql_create_index *x = &s->u.create_index;
    x->table = T;
    x->name = N;
    x->if_not_exists = E;
    x->custom = C;
    x->using = U;
    x->targets = L.head;
    x->props = W;
}
cmd ::= DROP INDEX ife(E) qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_INDEX);
    s->u.drop.name = N;
    s->u.drop.if_exists = E;
}

/* ---- CREATE / DROP / ALTER MATERIALIZED VIEW ---------------------------
 * CREATE MATERIALIZED VIEW [IF NOT EXISTS] [ks.]v AS SELECT sel FROM
 * [ks.]t WHERE rels PRIMARY KEY (pk, ck...) [WITH options]: the head
 * reduces into a CREATE TABLE statement (ctx->ct), so PRIMARY KEY,
 * CLUSTERING ORDER and the options reuse CREATE TABLE's rules. */
cmd ::= view_head AS SELECT selection(L) FROM qname(T) WHERE rels(R) vpk table_with. {
    ctx->ct->view_base = T;
    ctx->ct->view_sel = L.head;
    ctx->ct->view_where = R.head;
}
view_head ::= CREATE MATERIALIZED VIEW ifne(E) qname(N). {
    cqlp_table_begin(ctx, E, N);
    ctx->stmt->kind = CQL_CREATE_VIEW;
}
vpk ::= PRIMARY KEY LP pkey(K) ckeys(C) RP. { cqlp_table_pk(ctx, K.head, C.head); }

cmd ::= DROP MATERIALIZED VIEW ife(E) qname(N). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_DROP_VIEW);
    s->u.drop.name = N;
    s->u.drop.if_exists = E;
}
cmd ::= ALTER MATERIALIZED VIEW ife(E) qname(N) WITH aprops(P). {
    cql_stmt *s = cqlp_stmt(ctx, CQL_ALTER_VIEW);
    s->u.alter_table.if_exists = E;
    s->u.alter_table.name = N;
    s->u.alter_table.kind = CQL_ALTER_OPTIONS;
    s->u.alter_table.props = P.head;
}
