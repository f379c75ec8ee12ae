#!/usr/bin/env node
// Conformance program for the Node.js cassandra-driver (npm).
//
// Runs the checks described in tests/conformance/README.md against one
// server and prints a JSON summary on stdout; exits 1 if any check failed,
// 2 on bad usage.
//
//   node conform.js HOST PORT [--user U --password P] [--tls-ca F]
//                   [--tls-cert F --tls-key F] [--dc NAME]
//
// The driver is resolved through NODE_PATH (the test suite installs it under
// build/conformance/node/node_modules with `npm ci`), so this file runs from
// the source tree.
'use strict';

const fs = require('fs');
const crypto = require('crypto');

const PAGED_ROWS = 20000;
const PAGE_SIZE = 1000;
const ROWS_PER_PARTITION = 100;

function usage(msg) {
  process.stderr.write(`${msg}\nusage: conform.js HOST PORT [--user U --password P] ` +
    '[--tls-ca F] [--tls-cert F --tls-key F] [--dc NAME]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { dc: 'datacenter1' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(user|password|tls-ca|tls-cert|tls-key|dc|keyspace)$/.exec(argv[i]);
    if (m) {
      if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
      a[m[1].replace('-', '_')] = argv[++i];
    } else if (argv[i].startsWith('--')) {
      usage(`unknown option ${argv[i]}`);
    } else {
      pos.push(argv[i]);
    }
  }
  if (pos.length !== 2) usage('HOST and PORT are required');
  a.host = pos[0];
  a.port = parseInt(pos[1], 10);
  if (!(a.port > 0)) usage(`bad port ${pos[1]}`);
  if (!a.keyspace) a.keyspace = 'conform_node_' + crypto.randomBytes(4).toString('hex');
  return a;
}

class CheckFailed extends Error {
  constructor(message) {
    super(message);
    this.name = 'CheckFailed';
  }
}

// The native-protocol error code of a driver error: ResponseError carries
// it; AuthenticationError keeps the ResponseError in additionalInfo;
// NoHostAvailableError holds per-host errors in innerErrors.
function errorCode(err) {
  if (!err) return null;
  if (typeof err.code === 'number') return err.code;
  if (err.additionalInfo && typeof err.additionalInfo.code === 'number') {
    return err.additionalInfo.code;
  }
  if (err.innerErrors) {
    for (const k of Object.keys(err.innerErrors)) {
      const c = errorCode(err.innerErrors[k]);
      if (c !== null) return c;
    }
  }
  return null;
}

function hex(code) {
  return code === null ? 'none' : '0x' + code.toString(16).padStart(4, '0');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const cassandra = require('cassandra-driver');
  const driverVersion = require('cassandra-driver/package.json').version;
  const ks = args.keyspace;
  const checks = [];
  const failed = new Set();
  let client = null;

  async function run(name, fn, needs = []) {
    const t0 = Date.now();
    const missing = needs.filter((n) => failed.has(n));
    let ok = false;
    let detail;
    if (missing.length) {
      detail = `not run: ${missing.join(', ')} failed`;
    } else {
      try {
        detail = await fn();
        ok = true;
      } catch (e) {
        detail = `${e.name || 'Error'}: ${e.message}`;
        process.stderr.write(`${name}: ${e.stack || e}\n`);
      }
    }
    if (!ok) failed.add(name);
    checks.push({ name, ok, detail: String(detail), seconds: (Date.now() - t0) / 1000 });
  }

  function clientOptions(password) {
    const o = {
      contactPoints: [`${args.host}:${args.port}`],
      localDataCenter: args.dc,
      protocolOptions: { port: args.port },
      socketOptions: { connectTimeout: 10000, readTimeout: 30000 },
    };
    if (args.user !== undefined) {
      o.authProvider = new cassandra.auth.PlainTextAuthProvider(
        args.user, password !== undefined ? password : args.password);
    }
    if (args.tls_ca) {
      o.sslOptions = { ca: [fs.readFileSync(args.tls_ca)], rejectUnauthorized: true };
      if (args.tls_cert) {
        o.sslOptions.cert = fs.readFileSync(args.tls_cert);
        o.sslOptions.key = fs.readFileSync(args.tls_key);
      }
    }
    return o;
  }

  async function expectError(query, want) {
    try {
      await client.execute(query);
    } catch (e) {
      const code = errorCode(e);
      if (code !== want) {
        throw new CheckFailed(`${query}: wanted error ${hex(want)}, got ${e.name}: ` +
          `${e.message} (code ${hex(code)})`);
      }
      return `${hex(code)} ${e.name}: ${e.message}`;
    }
    throw new CheckFailed(`${query} succeeded, wanted error ${hex(want)}`);
  }

  await run('connect', async () => {
    client = new cassandra.Client(clientOptions());
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    const version = client.controlConnection && client.controlConnection.protocolVersion;
    return `protocol v${version}, release_version ${rs.first().release_version}, ` +
      `tls ${args.tls_ca ? 'yes' : 'no'}, auth ${args.user !== undefined ? 'yes' : 'no'}`;
  });

  await run('schema', async () => {
    await client.execute(`CREATE KEYSPACE ${ks} WITH replication = ` +
      "{'class': 'SimpleStrategy', 'replication_factor': 1}");
    await client.execute(`CREATE TABLE ${ks}.types (k int PRIMARY KEY, i int, bi bigint, ` +
      't text, bl blob, bo boolean, d double, ts timestamp, u uuid)');
    await client.execute(`CREATE TABLE ${ks}.paged (p int, c int, v text, PRIMARY KEY (p, c))`);
    await client.execute(`CREATE TABLE ${ks}.events (k int, seq int, note text, ` +
      'PRIMARY KEY (k, seq))');
    const names = [];
    for (const t of ['events', 'paged', 'types']) {
      const meta = await client.metadata.getTable(ks, t);
      if (!meta) throw new CheckFailed(`driver metadata has no table ${ks}.${t}`);
      names.push(`${t}(${meta.columns.length} columns)`);
    }
    return `keyspace ${ks} with tables ${names.join(', ')}`;
  }, ['connect']);

  await run('types', async () => {
    const Long = cassandra.types.Long;
    const Uuid = cassandra.types.Uuid;
    const ins = `INSERT INTO ${ks}.types (k, i, bi, t, bl, bo, d, ts, u) ` +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const sel = `SELECT k, i, bi, t, bl, bo, d, ts, u FROM ${ks}.types WHERE k = ?`;
    const rows = [
      [1, 2147483647, Long.fromString('9223372036854775807'), 'h\u00e9llo w\u00f6rld \u2713',
        Buffer.from([0x00, 0x01, 0xfe, 0xff]), true, 3.141592653589793,
        new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)), Uuid.random()],
      [2, -2147483648, Long.fromString('-9223372036854775808'), '', Buffer.alloc(0), false,
        -1.5e-300, new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 1)), cassandra.types.TimeUuid.now()],
    ];
    for (const r of rows) await client.execute(ins, r, { prepare: true });
    const same = (a, b) => {
      if (a instanceof Long || b instanceof Long) return a.toString() === b.toString();
      if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
      if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
      if (a instanceof Uuid) return b instanceof Uuid && a.toString() === b.toString();
      return a === b;
    };
    for (const r of rows) {
      const got = (await client.execute(sel, [r[0]], { prepare: true })).first();
      if (!got) throw new CheckFailed(`row k=${r[0]} not found`);
      const cols = ['k', 'i', 'bi', 't', 'bl', 'bo', 'd', 'ts', 'u'];
      cols.forEach((c, j) => {
        if (!same(r[j], got[c])) {
          throw new CheckFailed(`k=${r[0]} column ${c}: wrote ${r[j]}, read ${got[c]}`);
        }
      });
    }
    return 'prepared insert+select of int, bigint, text, blob, boolean, double, timestamp, ' +
      `uuid: ${rows.length} rows round-tripped`;
  }, ['schema']);

  await run('paging', async () => {
    const ins = `INSERT INTO ${ks}.paged (p, c, v) VALUES (?, ?, ?)`;
    const params = [];
    for (let i = 0; i < PAGED_ROWS; i++) {
      params.push([Math.floor(i / ROWS_PER_PARTITION), i % ROWS_PER_PARTITION, `v${i}`]);
    }
    await cassandra.concurrent.executeConcurrent(client, ins, params,
      { concurrencyLevel: 64, raiseOnFirstError: true });
    const sel = `SELECT p, c, v FROM ${ks}.paged`;
    const seen = new Set();
    let pages = 0;
    let biggest = 0;
    let total = 0;
    let wrong = 0;
    let pageState;
    for (;;) {
      const rs = await client.execute(sel, [], { prepare: true, fetchSize: PAGE_SIZE, pageState });
      pages++;
      biggest = Math.max(biggest, rs.rows.length);
      for (const row of rs.rows) {
        total++;
        seen.add(`${row.p}/${row.c}`);
        if (row.v !== `v${row.p * ROWS_PER_PARTITION + row.c}`) wrong++;
      }
      pageState = rs.pageState;
      if (!pageState) break;
      if (pages > 10 * PAGED_ROWS / PAGE_SIZE) throw new CheckFailed(`more than ${pages} pages`);
    }
    const detail = `${total} rows (${seen.size} distinct) in ${pages} pages, ` +
      `largest page ${biggest} rows`;
    if (total !== PAGED_ROWS || seen.size !== PAGED_ROWS || wrong) {
      throw new CheckFailed(`wanted ${PAGED_ROWS} rows: ${detail}, ${wrong} wrong values`);
    }
    if (biggest > PAGE_SIZE || pages < PAGED_ROWS / PAGE_SIZE) {
      throw new CheckFailed(`not paged by ${PAGE_SIZE}: ${detail}`);
    }
    return detail;
  }, ['schema']);

  await run('batch', async () => {
    const ins = `INSERT INTO ${ks}.events (k, seq, note) VALUES (?, ?, ?)`;
    await client.batch([
      { query: ins, params: [1, 1, 'one'] },
      { query: ins, params: [1, 2, 'two'] },
      { query: ins, params: [2, 1, 'other partition'] },
      { query: `INSERT INTO ${ks}.events (k, seq, note) VALUES (1, 3, 'three')` },
      { query: `UPDATE ${ks}.events SET note = ? WHERE k = ? AND seq = ?`,
        params: ['two, updated', 1, 2] },
    ], { prepare: true, logged: true });
    // Unprepared statements with bound values, unlogged.
    await client.batch([
      { query: ins, params: [3, 1, 'unlogged a'] },
      { query: ins, params: [3, 2, 'unlogged b'] },
    ], { prepare: false, logged: false, hints: [['int', 'int', 'text'], ['int', 'int', 'text']] });
    const rs = await client.execute(`SELECT k, seq, note FROM ${ks}.events`);
    const got = rs.rows.map((r) => [r.k, r.seq, r.note]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const want = [[1, 1, 'one'], [1, 2, 'two, updated'], [1, 3, 'three'],
      [2, 1, 'other partition'], [3, 1, 'unlogged a'], [3, 2, 'unlogged b']];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new CheckFailed(`after the batches the table holds ${JSON.stringify(got)}, ` +
        `wanted ${JSON.stringify(want)}`);
    }
    return 'logged prepared batch (4 inserts, 1 update, 2 partitions) and unlogged unprepared ' +
      `batch applied; ${got.length} rows read back`;
  }, ['schema']);

  await run('error_syntax', () => expectError('SELEC * FROM system.local', 0x2000), ['connect']);
  await run('error_unknown_table',
    () => expectError(`SELECT * FROM ${ks}.no_such_table`, 0x2200), ['connect']);

  if (args.user !== undefined) {
    await run('error_bad_password', async () => {
      const bad = new cassandra.Client(clientOptions(`${args.password || ''}-wrong`));
      try {
        await bad.connect();
      } catch (e) {
        const code = errorCode(e);
        if (code !== 0x0100) {
          throw new CheckFailed(`wanted error 0x0100, got ${e.name}: ${e.message} ` +
            `(code ${hex(code)})`);
        }
        const inner = e.innerErrors ? Object.values(e.innerErrors)[0] : e;
        return `0x0100 ${inner.name}: ${inner.message}`;
      } finally {
        await bad.shutdown().catch(() => {});
      }
      throw new CheckFailed('connected with a wrong password');
    });
  }

  if (client) {
    if (!failed.has('connect')) {
      await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`).catch(() => {});
    }
    await client.shutdown().catch(() => {});
  }
  const summary = {
    client: 'node cassandra-driver',
    driver_version: driverVersion,
    ok: failed.size === 0,
    checks,
  };
  process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
  return failed.size === 0 ? 0 : 1;
}

main().then((rc) => { process.exitCode = rc; }, (e) => {
  process.stderr.write(`conform.js: ${e.stack || e}\n`);
  process.exitCode = 1;
});
