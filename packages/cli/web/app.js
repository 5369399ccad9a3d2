// The cpgkit live view: renders /events (server-sent events) into the page. No framework, no
// build step. The server's model is LiveSnapshot (packages/cli/src/live/live-state.ts): the
// status summary of `cpgkit status --json`, the store's recent changes and the event stream.
// Everything from the server is inserted as text (textContent), never as HTML.
'use strict';

const MAX_EVENTS = 200;
const MAX_CHANGES = 50;
let state = null;

function $(id) {
  return document.getElementById(id);
}

/** An element with attributes (`data-*`, `class`, `title`) and children (nodes or text). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fill(tbody, rows, empty, columns) {
  tbody.replaceChildren(
    ...(rows.length > 0
      ? rows
      : [el('tr', {}, el('td', { class: 'dim', colspan: columns }, empty))]),
  );
}

function statusClass(s) {
  return s === 'ready' || s === 'running'
    ? 'ok'
    : s === 'syncing' || s === 'connecting'
      ? 'warn'
      : 'bad';
}

function who(o) {
  return `${o.nodeid}:${o.pid}`;
}

function short(text, n) {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

function renderStatus() {
  const s = state.status;
  document.title = `${state.title} · cpgkit live view`;
  $('title').textContent = state.title;
  $('time').textContent = `as of ${new Date(s.time).toLocaleTimeString()}`;
  const health = $('health');
  health.textContent = s.problems.length === 0 ? 'healthy' : `${s.problems.length} problem(s)`;
  health.className = `badge ${s.problems.length === 0 ? 'ok' : 'bad'}`;
  health.dataset.healthy = String(s.problems.length === 0);
  $('problems').replaceChildren(...s.problems.map((p) => el('li', {}, p)));

  const c = s.cluster;
  $('cluster').textContent =
    (c.nodeid === 0 ? 'nodes of this process: ' : `node ${c.nodeid}'s view: ring `) +
    `${c.nodes.join(' ') || '-'}; ` +
    (c.quorate ? 'quorate' : 'NOT quorate') +
    (c.votequorum ? `, votes ${c.votequorum.totalVotes}/${c.votequorum.expectedVotes}` : '');

  fill(
    $('nodes-body'),
    s.agents.map((a) =>
      el(
        'tr',
        {
          'data-node': a.nodeid,
          'data-store-status': a.store ? a.store.status : '',
          'data-locks-status': a.locks ? a.locks.status : '',
        },
        el('td', {}, a.nodeid),
        el('td', { class: 'dim' }, a.pid),
        el('td', { class: statusClass(a.state), title: a.reason || '' }, a.state),
        el(
          'td',
          { class: statusClass(a.store ? a.store.status : '') },
          a.store ? a.store.status : '-',
        ),
        el(
          'td',
          { class: statusClass(a.locks ? a.locks.status : '') },
          a.locks ? a.locks.status : '-',
        ),
        el('td', { class: 'mono' }, a.store ? a.store.members.map(who).join(' ') : '-'),
      ),
    ),
    'no agent answered',
    6,
  );

  const q = (name, m) =>
    `${name}: ${m.present} of Q=${m.replicaSet.length} present (${m.majority ? 'majority' : 'NO majority'}), ${m.ready} ready, digests ${m.digestsAgree ? 'agree' : 'DISAGREE'}`;
  $('quorum').textContent = `${q('store', s.store)} · ${q('locks', s.locks)}`;
  const replicas = [];
  for (const machine of ['store', 'locks']) {
    const all = s.agents.map((a) => a[machine]).filter((m) => m);
    for (const a of s.agents) {
      const m = a[machine];
      if (!m) continue;
      const same = all.filter((o) => o.epoch === m.epoch && o.index === m.index);
      const agree = same.every((o) => o.digest === m.digest);
      const note =
        same.length > 1
          ? agree
            ? `agrees with ${same.length - 1}`
            : 'DISAGREES'
          : 'alone at this index';
      replicas.push(
        el(
          'tr',
          { 'data-replica': `${a.nodeid}/${machine}`, 'data-agree': String(agree) },
          el('td', {}, a.nodeid),
          el('td', {}, machine),
          el('td', { class: statusClass(m.status) }, m.status),
          el('td', {}, m.epoch),
          el('td', {}, m.index),
          el(
            'td',
            { class: `mono ${agree ? '' : 'bad'}`, title: m.digest },
            `${m.digest.slice(0, 12)} `,
            el('span', { class: agree ? 'dim' : 'bad' }, note),
          ),
          el('td', { class: 'mono dim', title: m.replicaId }, m.replicaId.slice(-8)),
          el('td', { class: 'dim' }, m.syncRounds),
        ),
      );
    }
  }
  fill($('replicas-body'), replicas, 'no replica', 8);

  fill(
    $('leaders-body'),
    s.locks.elections.map((e) =>
      el(
        'tr',
        {
          'data-election': e.name,
          'data-leader-node': e.leader ? e.leader.nodeid : '',
          'data-term': e.term,
        },
        el('td', {}, e.name),
        el('td', {}, e.leader ? `node ${e.leader.nodeid} (pid ${e.leader.pid})` : '-'),
        el('td', {}, e.term),
        el(
          'td',
          { class: 'mono' },
          e.leader ? short(JSON.stringify(e.leader.value) ?? '', 60) : '',
        ),
        el('td', {}, e.candidates),
      ),
    ),
    'no election',
    5,
  );

  fill(
    $('locks-body'),
    s.locks.locks.map((l) =>
      el(
        'tr',
        {
          'data-lock': l.name,
          'data-holder-nodes': l.holders.map((h) => h.nodeid).join(' '),
          'data-holder-tokens': l.holders.map((h) => h.token).join(' '),
          'data-queue': l.waiters.map((w) => w.nodeid).join(' '),
        },
        el('td', {}, l.name),
        el('td', { class: 'dim' }, l.kind || '-'),
        el(
          'td',
          {},
          l.holders
            .map((h) => `node ${h.nodeid} (pid ${h.pid}, token ${h.token}, ${h.mode})`)
            .join(', ') || '-',
        ),
        el('td', {}, l.waiters.map((w) => `node ${w.nodeid}`).join(' → ') || '-'),
        el('td', {}, l.token),
      ),
    ),
    'no lock held or waited for',
    5,
  );

  $('store-summary').textContent =
    `revision ${s.store.revision ?? '-'}, ${s.store.keys ?? '-'} keys; recent changes, newest first:`;
}

function renderChanges() {
  fill(
    $('changes-body'),
    state.changes
      .slice()
      .reverse()
      .map((c) =>
        el(
          'tr',
          { 'data-revision': c.revision, 'data-key': c.key },
          el('td', {}, c.revision),
          el('td', {}, c.type),
          el('td', { class: 'mono' }, c.key),
          el(
            'td',
            { class: 'mono' },
            c.type === 'set' ? short(JSON.stringify(c.value) ?? '', 80) : '',
          ),
        ),
      ),
    'no change since the view started',
    4,
  );
}

function eventItem(e) {
  const t = new Date(e.time).toLocaleTimeString();
  return el(
    'li',
    { 'data-kind': e.kind, 'data-node': e.node ?? '', 'data-seq': e.seq },
    `${t} ${e.node === null ? 'cluster' : `node ${e.node}`} · ${e.kind} · ${e.text}`,
  );
}

function renderEvents() {
  $('events-list').replaceChildren(...state.events.slice().reverse().map(eventItem));
}

function connect() {
  const source = new EventSource('events');
  const conn = $('conn');
  source.addEventListener('open', () => {
    conn.textContent = 'live';
    conn.className = 'badge ok';
    conn.dataset.conn = 'live';
  });
  source.addEventListener('error', () => {
    conn.textContent = 'reconnecting…';
    conn.className = 'badge warn';
    conn.dataset.conn = 'reconnecting';
  });
  source.addEventListener('snapshot', (m) => {
    state = JSON.parse(m.data);
    renderStatus();
    renderChanges();
    renderEvents();
  });
  source.addEventListener('status', (m) => {
    if (state === null) return;
    state.status = JSON.parse(m.data);
    renderStatus();
  });
  source.addEventListener('event', (m) => {
    if (state === null) return;
    const e = JSON.parse(m.data);
    state.events.push(e);
    if (state.events.length > MAX_EVENTS) state.events.shift();
    const list = $('events-list');
    list.prepend(eventItem(e));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  });
  source.addEventListener('change', (m) => {
    if (state === null) return;
    state.changes.push(JSON.parse(m.data));
    if (state.changes.length > MAX_CHANGES) state.changes.shift();
    renderChanges();
  });
}

connect();
