// traceseal scan page: language switch, "verify it yourself" (the proof bundle checked in the
// browser with WebCrypto: Ed25519 signatures, SHA-256 RFC 9162 Merkle proofs, the C2SP
// checkpoint signature, and the anchored root read from the chain with eth_call), and the
// problem report form. Everything is served by traceseal; the one library, @noble/ed25519,
// is vendored (src/http/page/vendor/) and loaded only where WebCrypto lacks Ed25519.
(() => {
  'use strict';
  const $ = (s) => document.querySelector(s);
  const root = document.documentElement;
  const te = new TextEncoder();
  const td = new TextDecoder('utf-8', { fatal: true });

  // ---------------------------------------------------------------- language
  function setLang(l) {
    const en = l === 'en';
    root.lang = en ? 'en' : 'zh-CN';
    document.title = root.dataset[en ? 'titleEn' : 'titleZh'] || document.title;
    document.cookie = 'ts_lang=' + (en ? 'en' : 'zh') + ';path=/;max-age=31536000;samesite=lax';
    const f = $('#complaint input[name=lang]');
    if (f) f.value = en ? 'en' : 'zh';
  }
  const sw = $('#lang-switch');
  if (sw) sw.addEventListener('click', (e) => {
    e.preventDefault();
    setLang(root.lang === 'en' ? 'zh' : 'en');
  });

  // Both languages, as two spans the stylesheet shows one of.
  function bi(zh, en) {
    const f = document.createDocumentFragment();
    const a = document.createElement('span');
    a.lang = 'zh-CN';
    a.textContent = zh;
    const b = document.createElement('span');
    b.lang = 'en';
    b.textContent = en;
    f.append(a, b);
    return f;
  }

  // ---------------------------------------------------------------- bytes
  function b64(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new Error('bad base64');
    s = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    const bin = atob(s + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  const hex = (u) => Array.from(u, (x) => x.toString(16).padStart(2, '0')).join('');
  const b64url = (u) => btoa(String.fromCharCode(...u)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  function unhex(s) {
    if (!/^(0x)?([0-9a-fA-F]{2})*$/.test(s)) throw new Error('bad hex');
    s = s.replace(/^0x/, '');
    return Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
  }
  const cat = (...a) => {
    const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0));
    let o = 0;
    for (const x of a) { out.set(x, o); o += x.length; }
    return out;
  };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha256 = async (u) => new Uint8Array(await crypto.subtle.digest('SHA-256', u));
  const leafHash = (d) => sha256(cat([0], d));
  const node = (l, r) => sha256(cat([1], l, r));

  // Ed25519 (RFC 8032): WebCrypto where the browser has it (Chromium 137+, Firefox 129+,
  // Safari 17+), else @noble/ed25519 (vendored, served by us, loaded only then; SHA-512 from
  // WebCrypto), in its strict mode (canonical encodings, S < L, small-order keys rejected) and
  // with small-order R rejected too, as the service's verify_strict does. (Native WebCrypto
  // may accept small-order keys; the service never signs with such a key.)
  const nobleUrl = document.currentScript && document.currentScript.dataset.ed25519;
  let noble = null;
  async function edVerifyJs(pub, sig, msg) {
    if (sig.length !== 64 || pub.length !== 32) return false;
    noble = noble || import(nobleUrl);
    const ed = await noble;
    try {
      if (ed.Point.fromBytes(sig.slice(0, 32), false).isSmallOrder()) return false;
      return await ed.verifyAsync(sig, msg, pub, { zip215: false });
    } catch (e) {
      return false;
    }
  }
  let native = null;
  async function edVerify(pub, sig, msg) {
    if (native === null) {
      try {
        await crypto.subtle.importKey('raw', Uint8Array.from([0x58, ...new Array(31).fill(0x66)]), { name: 'Ed25519' }, false, ['verify']);
        native = true;
      } catch (e) {
        native = !(e && e.name === 'NotSupportedError');
      }
    }
    if (!native) return edVerifyJs(pub, sig, msg);
    const k = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    return crypto.subtle.verify({ name: 'Ed25519' }, k, sig, msg);
  }
  // For the tests: the fallback on its own.
  window.tracesealEd25519 = (pub, sig, msg) => edVerifyJs(unhex(pub), unhex(sig), unhex(msg));

  // ---------------------------------------------------------------- RFC 9162 proofs
  // Sizes stay below 2^53, so plain numbers with division (not 32-bit bit operations).
  const odd = (n) => n % 2 === 1;
  const half = (n) => Math.floor(n / 2);

  async function inclusion(index, size, leaf, proof, rootHash) {
    if (!(index < size)) return false;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        r = await node(p, r);
        if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {
        r = await node(r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && same(r, rootHash);
  }

  async function consistency(first, second, proof, firstRoot, secondRoot) {
    if (first === second) return proof.length === 0 && same(firstRoot, secondRoot);
    if (!(0 < first && first < second) || proof.length === 0) return false;
    let p2 = first;
    while (p2 > 1 && !odd(p2)) p2 = half(p2);
    const path = p2 === 1 ? [firstRoot, ...proof] : proof;
    let fn = first - 1, sn = second - 1;
    while (odd(fn)) { fn = half(fn); sn = half(sn); }
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        fr = await node(c, fr);
        sr = await node(c, sr);
        if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {
        sr = await node(sr, c);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && same(fr, firstRoot) && same(sr, secondRoot);
  }

  // ---------------------------------------------------------------- C2SP signed notes
  async function parseVkey(v) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(v || '');
    if (!m) throw new Error('log verifier key is malformed');
    const k = b64(m[3]);
    if (k.length !== 33 || k[0] !== 1) throw new Error('log verifier key is not Ed25519');
    const id = (await sha256(cat(te.encode(m[1]), [10, 1], k.slice(1)))).slice(0, 4);
    if (hex(id) !== m[2]) throw new Error('log verifier key id does not match its key');
    return { name: m[1], id, pub: k.slice(1) };
  }

  // The body of a note signed by the key `vk` (a checkpoint, a credit report's statement).
  async function verifiedBody(text, vk) {
    const cut = text.indexOf('\n\n');
    if (cut < 0) throw new Error('note has no signature block');
    const body = text.slice(0, cut + 1);
    let ok = false;
    for (const l of text.slice(cut + 2).split('\n')) {
      if (!l) continue;
      const m = /^\u2014 (\S+) (\S+)$/.exec(l);
      if (!m) throw new Error('malformed signature line');
      if (m[1] !== vk.name) continue;
      const blob = b64(m[2]);
      if (blob.length !== 68 || !same(blob.slice(0, 4), vk.id)) continue;
      if (await edVerify(vk.pub, blob.slice(4), te.encode(body))) ok = true;
      else throw new Error('the log signature does not verify');
    }
    if (!ok) throw new Error('no signature by the log key');
    return body;
  }

  async function openNote(text, vk) {
    const body = await verifiedBody(text, vk);
    const lines = body.slice(0, -1).split('\n');
    if (lines.length < 3 || !/^[1-9][0-9]{0,15}$/.test(lines[1])) throw new Error('checkpoint body is malformed');
    const rootHash = b64(lines[2]);
    if (rootHash.length !== 32) throw new Error('checkpoint root is not 32 bytes');
    const size = Number(lines[1]);
    if (!Number.isSafeInteger(size)) throw new Error('checkpoint size is beyond what this page can check');
    return { origin: lines[0], size, root: rootHash };
  }

  // ---------------------------------------------------------------- check list
  // Each check ends as pass (✓), fail (✗), skip (–: does not apply, e.g. not anchored yet) or
  // incomplete (?: could not be done now, e.g. the proofs could not be fetched). The page says
  // "verified" only when nothing failed and nothing is incomplete.
  const list = $('#checks');
  const state = { fail: 0, incomplete: 0 };
  const MARK = { pass: '✓', fail: '✗', skip: '–', incomplete: '?' };
  function check(id, zh, en) {
    const li = document.createElement('li');
    li.id = 'chk-' + id;
    li.className = 'run';
    const st = document.createElement('span');
    st.className = 'st';
    st.textContent = '…';
    const d = document.createElement('span');
    d.className = 'd';
    li.append(st, bi(zh, en), document.createTextNode(' '), d);
    list.append(li);
    let ended = false;
    return {
      done(result, dzh, den) {
        if (ended) return;
        ended = true;
        li.className = result;
        li.dataset.result = result;
        st.textContent = MARK[result];
        if (result === 'fail') state.fail++;
        if (result === 'incomplete') state.incomplete++;
        if (dzh) d.replaceChildren(bi(dzh, den));
      },
      get ended() { return ended; },
    };
  }

  // The browser's own mark next to a timeline entry (the service's mark stays as it is).
  function markRecord(index, ok) {
    for (const el of document.querySelectorAll('#timeline [data-leaf="' + index + '"] .here')) {
      if (el.dataset.browser === 'fail') continue;
      el.classList.toggle('fail', !ok);
      el.dataset.browser = ok ? 'pass' : 'fail';
      el.replaceChildren(ok ? bi('✓ 本机已验证签名与证明', '✓ signature and proof checked here')
        : bi('✗ 本机验证失败', '✗ failed the check here'));
    }
  }

  const TIMEOUT_MS = 8000;
  // A JSON fetch whose whole exchange, body included, is bounded by TIMEOUT_MS.
  async function fetchJson(url, opts) {
    const c = new AbortController();
    const t = setTimeout(() => c.abort(), TIMEOUT_MS);
    try {
      const r = await fetch(url, Object.assign({ signal: c.signal }, opts || {}));
      return { ok: r.ok, json: r.ok || (r.headers.get('content-type') || '').includes('json') ? await r.json() : null };
    } finally { clearTimeout(t); }
  }

  // What a leaf is, from its own first line (never from the bundle's label).
  const KINDS = { 'traceseal/item/v2': 'item', 'traceseal/custody/v2': 'custody', 'traceseal/actor/v1': 'actor',
    'traceseal/recall/v1': 'recall', 'traceseal/reprint/v2': 'reprint', 'traceseal/product/v1': 'product',
    'traceseal/engagement/v1': 'engagement', 'traceseal/issuer-key/v1': 'issuer_key' };
  // Who may record which step (docs/custody.md, the permission matrix); holds by their type.
  const STEP_ROLES = {
    origin_attestation: ['inspector'], packing: ['inspector', 'carrier'], shipping: ['carrier'],
    departing: ['carrier'], arriving: ['carrier'], customs_declaration: ['customs_broker'],
    customs_clearance: ['customs_broker'], receiving: ['bonded_warehouse'], storing: ['bonded_warehouse'],
    sampling: ['inspector', 'bonded_warehouse'],
    release: ['bonded_warehouse'], retail_sale: ['retailer'], self_pickup: ['retailer'],
  };
  const HOLD_OWNER = { customs: 'customs_broker', quality: 'bonded_warehouse' };
  const roleAllows = (role, ev) => !!role && !!ev && (ev.step === 'holding' || ev.step === 'hold_release'
    ? HOLD_OWNER[ev.data && ev.data.hold_type] === role
    : (STEP_ROLES[ev.step] || []).includes(role));
  // Whether an enterprise's engagement periods of an actor cover a signature at t for gtin.
  const engagedAt = (ps, gtin, t) => ps.some((p) => (p.gtins.length === 0 || p.gtins.includes(gtin)) &&
    t >= p.nb && (p.na === null || t < p.na) && (p.end === null || t < p.end));
  const isIndex = (n) => Number.isSafeInteger(n) && n >= 0;
  const utc = (t) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

  // The revocation rule (src/issuer.rs): a code of a revoked issuer key counts only when its
  // issuance record, proven in the log, shows it was issued before the revocation's start.
  // `rev` is the earliest revocation of the key ({from, reason}: from the published keys and
  // the bundle's proven issuer-key records), `issued` the proven issue time (or null).
  function keyCheck(c, key, published, rev, issued, waiting) {
    if (!key) return c.done('skip', '签发密钥未知', 'the issuer key is unknown');
    if (!rev) {
      if (published === null) return c.done('incomplete', '无法获取公钥，请稍后再试', 'could not fetch the public keys; try again later');
      return c.done('pass', '未被吊销', 'not revoked');
    }
    const when = utc(rev.from);
    if (issued !== null && issued < rev.from) {
      return c.done('pass', '密钥自 ' + when + ' 起被吊销；此商品签发于 ' + utc(issued) + '，在此之前，仍然有效',
        'revoked from ' + when + ' (' + rev.reason + '); this item was issued at ' + utc(issued) + ', before that: still valid');
    }
    if (waiting) return c.done('incomplete', '密钥已被吊销，需要签发记录才能判断，请稍后再试', 'the key is revoked; its issuance record could not be fetched to tell; try again later');
    c.done('fail', '签发密钥自 ' + when + ' 起被吊销（' + rev.reason + '）：' + (issued === null ? '没有签发记录表明此码签发于吊销之前' : '此商品签发于 ' + utc(issued) + '，在吊销之后'),
      'issuer key revoked from ' + when + ' (' + rev.reason + '): ' + (issued === null ? 'no issuance record shows this code was issued before that' : 'this item was issued at ' + utc(issued) + ', after that'));
  }
  const earliest = (a, b) => (a && b ? (b.from < a.from ? b : a) : a || b);

  // ---------------------------------------------------------------- the checks
  async function run(sec) {
    const code = sec.dataset.code;
    const expectProof = !!sec.dataset.bundle;
    const cSig = check('code', '标签上的码的签名', "The label code's signature");
    const cKey = check('key', '签发密钥在签发时未被吊销', 'The issuer key was not revoked when the item was issued');
    const cCp = check('checkpoint', '日志检查点的签名', "The log checkpoint's signature");
    const cInc = check('inclusion', '每条记录都在日志中（Merkle 证明）', 'Every record is in the log (Merkle proofs)');
    const cRec = check('records', '流转记录的签名', 'Signatures of the custody records');
    const cCons = check('consistency', '日志只增不改（一致性证明）', 'The log only grew (consistency proof)');
    const cChain = check('chain', '区块链上存证的根哈希', 'The root anchored on chain');
    const all = [cSig, cKey, cCp, cInc, cRec, cCons, cChain];
    if (!window.crypto || !crypto.subtle) {
      for (const c of all) c.done('incomplete', '需要 HTTPS 安全连接才能在浏览器中验证', 'checking in the browser needs a secure (HTTPS) page');
      return;
    }
    // The published keys, with each key's validity and revocation (fetched alongside the proofs).
    const keysP = fetchJson(sec.dataset.keys)
      .then((r) => (r.ok && r.json && Array.isArray(r.json.keys) ? r.json.keys : null))
      .catch(() => null);
    let bundle = null;
    if (expectProof) {
      try {
        const url = sec.dataset.bundle + '?code=' + encodeURIComponent(code);
        const r = await fetchJson(url, { headers: { accept: 'application/json' } });
        if (r.ok) bundle = r.json;
      } catch (e) { bundle = null; }
    }
    // 1. The code on the label, with the key the bundle names, else the published keys.
    const q = new URL(code).searchParams;
    const kid = q.get('k');
    const cut = code.indexOf('&s=');
    let key = bundle && Array.isArray(bundle.keys && bundle.keys.issuers) ? bundle.keys.issuers.find((k) => k.kid === kid) : null;
    const published = await keysP;
    let keysFetched = !!key || published !== null;
    if (!key && published) key = published.find((k) => k.role === 'issuer' && k.kid === kid) || null;
    // The published revocation of that very key (same id and public key).
    const pk = key && published ? published.find((k) => k.role === 'issuer' && k.kid === kid && k.public_key === key.public_key) : null;
    let rev = pk && pk.revoked_from && Number.isFinite(Date.parse(pk.revoked_from))
      ? { from: Math.floor(Date.parse(pk.revoked_from) / 1000), reason: pk.revoke_reason || '' } : null;
    if (!key) {
      if (keysFetched) cSig.done('fail', '签发密钥 ' + kid + ' 不是本平台公布的密钥', 'issuer key ' + kid + ' is not one the service publishes');
      else cSig.done('incomplete', '无法获取公钥，请稍后再试', 'could not fetch the public keys; try again later');
    } else {
      let ok = false;
      try {
        const pub = b64(key.public_key);
        ok = hex((await sha256(pub)).slice(0, 4)) === kid && cut > 0 &&
          await edVerify(pub, b64(q.get('s')), te.encode('traceseal/code/v1\n' + code.slice(0, cut)));
      } catch (e) { ok = false; }
      cSig.done(ok ? 'pass' : 'fail', ok ? 'Ed25519，密钥 ' + kid : '签名不符：码被改动或伪造',
        ok ? 'Ed25519, key ' + kid : 'the signature does not match: the code was altered or forged');
    }
    if (!bundle) {
      keyCheck(cKey, key, published, rev, null, expectProof);
      // No proofs for a code we did not issue; for one we did, they must come.
      for (const c of [cCp, cInc, cRec, cCons, cChain]) {
        if (expectProof) c.done('incomplete', '无法获取证明材料，请稍后再试', 'could not fetch the proofs; try again later');
        else c.done('skip', '此码没有证明材料', 'no proof exists for this code');
      }
      return;
    }
    // 2. Checkpoints.
    let cp = null, latest = null;
    try {
      const vk = await parseVkey(bundle.keys.log_vkey);
      cp = await openNote(bundle.checkpoint, vk);
      if (bundle.latest_checkpoint) {
        latest = await openNote(bundle.latest_checkpoint, vk);
        if (latest.origin !== cp.origin) throw new Error('the latest checkpoint is of another log');
      }
      cCp.done('pass', '规模 ' + cp.size + '，日志 ' + cp.origin, 'tree size ' + cp.size + ', log ' + cp.origin);
    } catch (e) {
      cCp.done('fail', String(e.message), String(e.message));
    }
    // 3. Records and their inclusion proofs; the kind is read from each leaf. The issuance
    // record commits to the code; item-scoped custody records name it by its item reference
    // (docs/code-format.md): both are computed here from the code on the label.
    const commitment = b64url(await sha256(te.encode('traceseal/commitment/v1\n' + code)));
    const itemRef = b64url(await sha256(te.encode('traceseal/item-ref/v1\n' + code)));
    const actorKeys = new Map();
    const custody = [];
    const support = [];
    const proven = new Set();
    const roles = new Map();
    let bad = 0, itemOk = false, items = 0, issued = null;
    const recs = Array.isArray(bundle.records) ? bundle.records : [];
    for (const r of recs) {
      let data = null, ok = false, text = '', kind = null;
      try {
        data = b64(r.leaf_data);
        text = td.decode(data);
        const nl = text.indexOf('\n');
        kind = nl > 0 ? KINDS[text.slice(0, nl)] || null : null;
        const target = r.tree_size === undefined || r.tree_size === null ? cp : latest;
        const proof = r.inclusion_proof.map(b64);
        ok = kind !== null && kind === r.kind && isIndex(r.leaf_index) && target !== null &&
          (target === cp || r.tree_size === target.size) && proof.every((h) => h.length === 32) &&
          await inclusion(r.leaf_index, target.size, await leafHash(data), proof, target.root);
        if (kind === 'item' && target !== cp) ok = false;
      } catch (e) { ok = false; }
      if (!ok) { bad++; if (isIndex(r.leaf_index)) markRecord(r.leaf_index, false); continue; }
      proven.add(r.leaf_index);
      if (kind === 'item') {
        items++;
        itemOk = items === 1 && text.split('\n').includes('commitment ' + commitment);
        const m = /\nissued (-?[0-9]+)\n/.exec(text);
        if (itemOk && m) issued = Number(m[1]);
        markRecord(r.leaf_index, itemOk);
      } else if (kind === 'actor') {
        try {
          const op = JSON.parse(text.split('\n')[1]);
          if (op.op === 'add_key') actorKeys.set(op.actor + '/' + op.kid, op.public_key);
          if (op.op === 'register') roles.set(op.actor, op.role);
        } catch (e) { /* not a key record */ }
      } else if (kind === 'issuer_key') {
        try {
          const op = JSON.parse(text.split('\n')[1]);
          if (op.op === 'revoke' && key && op.kid === kid && op.public_key === key.public_key) {
            rev = earliest(rev, { from: op.revoked_from, reason: op.reason });
          }
        } catch (e) { /* a malformed record revokes nothing */ }
      } else if (kind === 'custody') {
        custody.push({ r, text, lh: hex(await leafHash(data)) });
      } else if (kind === 'product' || kind === 'engagement' || kind === 'recall') {
        support.push({ i: r.leaf_index, kind, text, lh: hex(await leafHash(data)) });
      }
    }
    const n = recs.length;
    keyCheck(cKey, key, published, rev, bundle.code === code ? issued : null, false);
    if (bundle.code !== code) cInc.done('fail', '证明材料属于另一个码', 'the proof bundle is for another code');
    else if (n > 0 && bad === 0 && itemOk && items === 1) cInc.done('pass', n + ' 条记录，全部在检查点中', n + ' records, all in the checkpoint');
    else cInc.done('fail', bad + ' 条记录的证明不成立' + (itemOk ? '' : '，签发记录不符'),
      bad + ' record proofs do not hold' + (itemOk ? '' : '; the issuance record does not match'));
    // 4. Custody signatures, with the keys the bundle's own proven actor records register, by
    // actors the product's owner had engaged when they signed: ownership and engagements as
    // the log stood at each record (its product and engagement records before it).
    // Records of the item's lot only, in the lot's hash chain (lot-wide records link to the
    // one before; item-scoped ones point into the chain), each step by a role allowed to
    // record it.
    const path = new URL(code).pathname.split('/');
    const gtin = path[2];
    const lotId = gtin + '.' + path[4];
    const ordered = support.concat(custody.map(({ r, text, lh }) => ({ i: r.leaf_index, kind: 'custody', r, text, lh })))
      .sort((a, b) => a.i - b.i);
    let owner = null, unengaged = 0, unlinked = 0;
    let head = '0'.repeat(64);
    const lotWide = new Set([head]);
    const periods = new Map();
    let sigOk = 0, sigBad = 0;
    for (const ev of ordered) {
      if (ev.kind === 'recall') {
        let ok = false;
        try {
          const o = JSON.parse(ev.text.split('\n')[1]);
          ok = o.lot === lotId && o.prev === head;
        } catch (e) { ok = false; }
        if (ok) { head = ev.lh; lotWide.add(head); } else unlinked++;
        markRecord(ev.i, ok);
        continue;
      }
      if (ev.kind !== 'custody') {
        try {
          const o = JSON.parse(ev.text.split('\n')[1]);
          if (ev.kind === 'product' && o.gtin === gtin) owner = o.enterprise;
          if (ev.kind === 'engagement') {
            const k = o.enterprise + '/' + o.actor;
            const ps = periods.get(k) || [];
            if (o.op === 'engage') ps.push({ gtins: o.gtins || [], nb: o.not_before, na: o.not_after ?? null, end: null });
            if (o.op === 'end') for (const p of ps) if (p.end === null) p.end = o.at;
            periods.set(k, ps);
          }
        } catch (e) { /* a malformed record engages nobody */ }
        continue;
      }
      const { r, text } = ev;
      let good = false;
      try {
        const lines = text.split('\n');
        const st = JSON.parse(lines[1]);
        const scoped = Array.isArray(st.items);
        if (st.lot !== lotId || !(scoped ? lotWide.has(st.prev) : st.prev === head) ||
            !roleAllows(roles.get(st.actor), st.event)) {
          unlinked++;
          throw new Error('not in the lot\'s chain, or not the role\'s step');
        }
        if (!scoped) { head = ev.lh; lotWide.add(head); }
        if (owner === null || !engagedAt(periods.get(owner + '/' + st.actor) || [], gtin, st.signed_at)) {
          unengaged++;
          throw new Error('not engaged');
        }
        const pubB64 = actorKeys.get(st.actor + '/' + st.kid);
        const names = !Array.isArray(st.items) || st.items.includes(itemRef);
        if (pubB64 && names && lines.length === 4 && lines[2].startsWith('sig ') && lines[3] === '') {
          const pub = b64(pubB64);
          good = hex((await sha256(pub)).slice(0, 4)) === st.kid &&
            await edVerify(pub, b64(lines[2].slice(4)), te.encode(lines[0] + '\n' + lines[1] + '\n'));
        }
      } catch (e) { good = false; }
      if (good) sigOk++; else sigBad++;
      markRecord(r.leaf_index, good);
    }
    // Every record the page shows must be one the browser checked.
    const shown = Array.from(document.querySelectorAll('#timeline [data-leaf]'), (el) => Number(el.dataset.leaf));
    const missing = shown.filter((i) => !proven.has(i));
    for (const i of missing) markRecord(i, false);
    // Records the page marks as newer than the latest checkpoint cannot be proven yet.
    const pending = document.querySelectorAll('#timeline [data-pending]').length;
    if (missing.length) cRec.done('fail', '页面上的 ' + missing.length + ' 条记录不在证明材料中', missing.length + ' records on this page are not in the proofs');
    else if (unlinked) cRec.done('fail', unlinked + ' 条记录不属于本批次的记录链，或签署方无权记录该环节',
      unlinked + ' records are not in this lot\'s chain, or were recorded by a role that may not record the step');
    else if (unengaged) cRec.done('fail', unengaged + ' 条记录的签署方未受进口商委托', unengaged + ' records signed by actors the importer had not engaged');
    else if (sigBad) cRec.done('fail', sigBad + ' 个签名无效', sigBad + ' signatures invalid');
    else if (custody.length === 0) cRec.done('skip', '没有流转记录', 'no custody records');
    else if (pending) cRec.done('incomplete', sigOk + ' 个签名有效；' + pending + ' 条最新记录尚未进入签名检查点，请稍后再扫',
      sigOk + ' signatures valid; ' + pending + ' newest records are not in a signed checkpoint yet: scan again in a minute');
    else cRec.done('pass', sigOk + ' 个签名有效', sigOk + ' signatures valid');
    // 5. Consistency up to the latest checkpoint.
    const cons = Array.isArray(bundle.consistency_proof) ? bundle.consistency_proof : [];
    if (!latest) {
      if (cons.length) cCons.done('fail', '有一致性证明却没有更新的检查点', 'a consistency proof without a newer checkpoint');
      else cCons.done('skip', '没有更新的检查点', 'no newer checkpoint');
    } else if (!cp) cCons.done('fail', '检查点无效', 'the checkpoint is invalid');
    else {
      let ok = false;
      try {
        const p = cons.map(b64);
        ok = p.every((h) => h.length === 32) && await consistency(cp.size, latest.size, p, cp.root, latest.root);
      } catch (e) { ok = false; }
      cCons.done(ok ? 'pass' : 'fail', ok ? cp.size + ' → ' + latest.size : '一致性证明不成立',
        ok ? cp.size + ' → ' + latest.size : 'the consistency proof does not hold');
    }
    // 6. The chain.
    await chainCheck(sec, bundle, cp, cChain);
  }

  async function rpc(url, method, params) {
    const j = (await fetchJson(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    })).json || {};
    if (typeof j.result !== 'string' && !j.error) throw new Error('no answer from the chain node');
    if (j.error) {
      const revert = j.error.code === 3 || /revert/i.test(j.error.message || '');
      throw Object.assign(new Error(j.error.message || 'rpc error'), { revert });
    }
    return j.result;
  }

  async function chainCheck(sec, bundle, cp, c) {
    const a = bundle.anchor;
    // What the page (rendered by the service from its own anchor state) says.
    const pageSays = sec.dataset.anchorStatus || '';
    const onChain = (s) => ['anchored', 'confirmed', 'finalized'].includes(s);
    if (!a) {
      if (onChain(pageSays)) return c.done('fail', '页面说已上链，证明材料却没有存证', 'the page says anchored, the proofs carry no anchor');
      return c.done('skip', '本服务未配置上链', 'this service does not anchor');
    }
    if (!onChain(a.status)) {
      // The service re-checks the chain for every answer: a node hiccup or a reorg between
      // the page and the bundle is not proof of anything.
      if (onChain(pageSays)) return c.done('incomplete', '上链状态刚刚变化，请稍后再扫', 'the anchor state just changed; scan again later');
      return c.done('skip', '尚未上链（存证进行中）', 'not anchored yet (anchoring pending)');
    }
    if (sec.dataset.contract && a.contract.toLowerCase() !== sec.dataset.contract.toLowerCase()) {
      return c.done('fail', '证明材料中的合约与页面不一致', 'the proofs name another contract than the page');
    }
    if (!sec.dataset.rpc) return c.done('skip', '未配置公共区块链节点', 'no public chain node is configured');
    if (!cp) return c.done('fail', '检查点无效', 'the checkpoint is invalid');
    try {
      const chainId = parseInt(await rpc(sec.dataset.rpc, 'eth_chainId', []), 16);
      if (chainId !== a.chain_id) return c.done('fail', '节点的链 ID 是 ' + chainId, 'the node is on chain ' + chainId);
      const logId = await sha256(te.encode(cp.origin));
      const size = unhex(cp.size.toString(16).padStart(64, '0'));
      const data = '0x' + sec.dataset.selector + hex(logId) + hex(size);
      const out = unhex(await rpc(sec.dataset.rpc, 'eth_call', [{ to: a.contract, data }, 'latest']));
      const noteHash = await sha256(te.encode(bundle.checkpoint));
      if (out.length === 160 && same(out.slice(0, 32), size) && same(out.slice(32, 64), cp.root) && same(out.slice(64, 96), noteHash)) {
        c.done('pass', '链 ' + chainId + ' 合约 ' + a.contract.slice(0, 10) + '… 上的根与检查点一致',
          'chain ' + chainId + ', contract ' + a.contract.slice(0, 10) + '…: the root matches the checkpoint');
      } else {
        c.done('fail', '链上的根与检查点不一致', 'the root on chain differs from the checkpoint');
      }
    } catch (e) {
      if (e && e.revert) c.done('fail', '合约中没有这个检查点', 'the contract has no such checkpoint');
      else c.done('incomplete', '无法连接区块链节点，请稍后再试', 'could not reach the chain node; try again later');
    }
  }

  // ---------------------------------------------------------------- complaint form
  const form = $('#complaint');
  if (form) form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('#complaint-result');
    const fd = new FormData(form);
    const body = {
      scan_id: fd.get('scan_id'),
      category: fd.get('category'),
      description: fd.get('description') || '',
    };
    if (fd.get('contact')) body.contact = fd.get('contact');
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const r = await fetch(form.dataset.api, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const j = await r.json();
      if (r.status === 201) {
        out.className = 'receipt';
        out.replaceChildren(bi('已收到，编号 ', 'Received. Reference '));
        const b = document.createElement('strong');
        b.id = 'complaint-reference';
        b.textContent = j.reference;
        out.append(b);
        // The secret that, with the reference, shows the progress: shown once, never stored here.
        const p = document.createElement('p');
        p.append(bi('查询密码（请保存，仅显示一次）：', 'Secret to follow it (keep it; shown once): '));
        const sec = document.createElement('strong');
        sec.id = 'complaint-secret';
        sec.className = 'mono';
        sec.textContent = j.secret;
        p.append(sec);
        const a = document.createElement('a');
        a.href = '/complaints/follow?lang=' + (root.lang === 'en' ? 'en' : 'zh');
        a.append(bi('查询进度', 'Follow its progress'));
        out.append(p, a);
        form.reset();
      } else {
        out.className = 'alert';
        out.replaceChildren(bi('未能提交：' + j.detail, 'Not sent: ' + j.detail));
      }
    } catch (err) {
      out.className = 'alert';
      out.replaceChildren(bi('网络错误，请重试', 'Network error; please try again'));
    } finally {
      btn.disabled = false;
      out.hidden = false;
      out.focus();
    }
  });

  // ---------------------------------------------------------------- certificates
  // A published certificate is fetched and hashed here: it is shown (an image) or offered for
  // saving (a PDF) only when its SHA-256 is the one in the signed record, and only as the
  // bytes checked (a blob typed by their first bytes, never by the server's answer).
  function fileType(u) {
    const starts = (m) => m.length <= u.length && m.every((x, i) => u[i] === x);
    if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return ['application/pdf', 'pdf'];
    if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return ['image/png', 'png'];
    if (starts([0xff, 0xd8, 0xff])) return ['image/jpeg', 'jpg'];
    return null;
  }
  function certNote(out, state, zh, en) {
    out.dataset.state = state;
    const p = document.createElement('p');
    p.className = 'cert-note';
    p.append(bi(zh, en));
    out.replaceChildren(p);
  }
  async function viewCert(btn) {
    const want = btn.dataset.sha256 || '';
    const out = btn.nextElementSibling;
    if (!out || !/^[0-9a-f]{64}$/.test(want)) return;
    btn.disabled = true;
    certNote(out, 'busy', '正在下载并核对文件…', 'Fetching and checking the file…');
    try {
      const r = await fetch('/certificates/' + want, { credentials: 'omit' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const bytes = new Uint8Array(await r.arrayBuffer());
      const type = fileType(bytes);
      if (hex(await sha256(bytes)) !== want || !type) {
        certNote(out, 'fail', '✗ 文件与签名记录中的 SHA-256 不一致：这不是检验机构签署的文件。',
          '✗ The file does not match the SHA-256 in the signed record: it is not the document the inspector signed.');
        return;
      }
      certNote(out, 'pass', '✓ 文件与签名记录中的 SHA-256 一致。', '✓ The file matches the SHA-256 in the signed record.');
      const url = URL.createObjectURL(new Blob([bytes], { type: type[0] }));
      if (type[0].startsWith('image/')) {
        const img = document.createElement('img');
        img.className = 'cert-img';
        img.alt = btn.dataset.name || '';
        img.src = url;
        out.append(img);
      }
      const a = document.createElement('a');
      a.href = url;
      a.download = 'certificate-' + want.slice(0, 16) + '.' + type[1];
      a.className = 'cert-save';
      a.append(bi('保存已核对的文件', 'Save the checked file'));
      out.append(a);
    } catch (e) {
      certNote(out, 'error', '暂时无法获取文件，请稍后再试。', 'The file cannot be fetched now; try again later.');
    } finally {
      btn.disabled = false;
    }
  }
  for (const b of document.querySelectorAll('button.cert')) b.addEventListener('click', () => viewCert(b));

  // ---------------------------------------------------------------- merchant page
  // The integrity page (/m/{uscc}): the enterprise's credit report checked here — the log
  // key is the published one, the checkpoint and the statement are signed by it, the
  // statement names this enterprise and exactly the report's leaves, every grade and
  // warning-list change is in the checkpoint with no sequence missing, the grade and listing
  // the page shows are the logged ones, and the checkpoint is anchored on chain.
  const REPORT_KINDS = { 'traceseal/grade/v1': 'grade', 'traceseal/warning/v1': 'warning' };
  const contiguous = (xs) => xs.sort((a, b) => a.seq - b.seq).every((x, k) => k === 0 || x.seq === xs[k - 1].seq + 1);

  // `expect`: the enterprise {id, uscc, name} the statement must name.
  async function reportStatement(rep, vk, cp, expect) {
    const lines = (await verifiedBody(rep.statement, vk)).split('\n');
    const st = JSON.parse(lines[1]);
    const recs = rep.records;
    return lines[0] === 'traceseal/credit-report/v1' && lines.length === 3 && lines[2] === '' &&
      st.enterprise.id === expect.id && st.enterprise.uscc === expect.uscc &&
      st.enterprise.name === expect.name && st.issued_at === rep.issued_at &&
      st.tree_size === cp.size && same(b64(st.root), cp.root) &&
      Array.isArray(st.leaves) && st.leaves.length === recs.length && st.leaves.every((x, i) => x === recs[i].leaf_index);
  }

  async function reportLeaves(rep, cp, id) {
    const grades = [], warnings = [];
    let bad = 0;
    for (const r of rep.records) {
      let ok = false;
      try {
        const data = b64(r.leaf_data);
        const lines = td.decode(data).split('\n');
        const kind = REPORT_KINDS[lines[0]];
        const o = JSON.parse(lines[1]);
        const proof = r.inclusion_proof.map(b64);
        ok = kind === r.kind && o.enterprise === id && isIndex(r.leaf_index) && proof.every((h) => h.length === 32) &&
          await inclusion(r.leaf_index, cp.size, await leafHash(data), proof, cp.root);
        if (ok) (kind === 'grade' ? grades : warnings).push(o);
      } catch (e) { ok = false; }
      if (!ok) bad++;
      if (isIndex(r.leaf_index)) markRecord(r.leaf_index, ok);
    }
    return { grades, warnings, bad };
  }

  // The checks every report gets: the log key, the checkpoint, the statement naming
  // `expect`, every leaf's proof with no sequence missing, and the chain. `cs`: the check
  // lines {cp, st, inc, chain}. Returns the proven changes, or null when the checkpoint fails.
  async function reportChecks(sec, rep, keys, expect, cs) {
    let vk = null, cp = null;
    try {
      if (!keys.some((k) => k.role === 'log' && k.vkey === rep.log_vkey)) throw new Error('the report\'s log key is not the published one');
      vk = await parseVkey(rep.log_vkey);
      cp = await openNote(rep.checkpoint, vk);
      cs.cp.done('pass', '规模 ' + cp.size + '，日志 ' + cp.origin, 'tree size ' + cp.size + ', log ' + cp.origin);
    } catch (e) {
      cs.cp.done('fail', String(e.message), String(e.message));
      for (const c of [cs.st, cs.inc, cs.chain]) c.done('fail', '检查点无效', 'the checkpoint is invalid');
      return null;
    }
    let stOk = false;
    try { stOk = await reportStatement(rep, vk, cp, expect); } catch (e) { stOk = false; }
    cs.st.done(stOk ? 'pass' : 'fail', stOk ? '企业、检查点与记录均与签名一致' : '报告的签名陈述与企业或其记录不符',
      stOk ? 'the enterprise, checkpoint and records are the signed ones' : 'the signed statement does not match the enterprise or its records');
    const { grades, warnings, bad } = await reportLeaves(rep, cp, expect.id);
    const shown = Array.from(document.querySelectorAll('#timeline [data-leaf]'), (el) => Number(el.dataset.leaf));
    const proven = new Set(rep.records.map((r) => r.leaf_index));
    const missing = shown.filter((i) => !proven.has(i));
    for (const i of missing) markRecord(i, false);
    const incOk = stOk && bad === 0 && missing.length === 0 && grades.length > 0 && contiguous(grades) && contiguous(warnings);
    cs.inc.done(incOk ? 'pass' : 'fail', incOk ? grades.length + ' 次等级变更、' + warnings.length + ' 次名单变更，无遗漏' : '有记录的证明不成立或有遗漏',
      incOk ? grades.length + ' grade and ' + warnings.length + ' listing changes, none missing' : 'a record\'s proof does not hold, or one is missing');
    await chainCheck(sec, rep, cp, cs.chain);
    return incOk ? { grades, warnings } : null;
  }

  const reportCheckLines = () => ({
    cp: check('checkpoint', '日志检查点签名', 'Log checkpoint signature'),
    st: check('statement', '平台签署的信用报告', 'Credit report signed by the platform'),
    inc: check('inclusion', '每次等级变更都在日志中', 'Every grade change is in the log'),
    chain: check('chain', '检查点已上链', 'Checkpoint anchored on chain'),
  });

  async function publishedKeys(sec) {
    try {
      const r = await fetchJson(sec.dataset.keys);
      return r.ok && r.json && Array.isArray(r.json.keys) ? r.json.keys : null;
    } catch (e) { return null; }
  }

  async function runMerchant(sec) {
    const cs = reportCheckLines();
    const cShown = check('shown', '页面显示的等级与日志一致', 'The grade shown is the logged one');
    let rep = null;
    try {
      const r = await fetchJson(sec.dataset.report, { headers: { accept: 'application/json' } });
      if (r.ok && r.json && Array.isArray(r.json.records)) rep = r.json;
    } catch (e) { rep = null; }
    const keys = await publishedKeys(sec);
    if (!rep || !keys) {
      for (const c of [cs.cp, cs.st, cs.inc, cs.chain, cShown]) c.done('incomplete', '无法获取信用报告或公钥，请稍后再试', 'could not fetch the credit report or the keys; try again later');
      return;
    }
    const expect = { id: Number(sec.dataset.id), uscc: sec.dataset.uscc, name: sec.dataset.name };
    const got = await reportChecks(sec, rep, keys, expect, cs);
    const g = got && got.grades[got.grades.length - 1];
    const w = got && got.warnings[got.warnings.length - 1];
    const listed = !!(w && w.listed);
    if (!g) cShown.done('fail', '无法核对', 'cannot be compared');
    else if (g.seq > Number(sec.dataset.seq)) cShown.done('incomplete', '等级刚刚变化，请刷新页面', 'the grade changed just now; reload the page');
    else if (g.seq === Number(sec.dataset.seq) && g.grade === sec.dataset.grade && listed === (sec.dataset.listed === 'true')) {
      cShown.done('pass', '等级 ' + g.grade + (listed ? '，在预警名单上' : ''), 'grade ' + g.grade + (listed ? ', on the warning list' : ''));
    } else cShown.done('fail', '页面显示的等级或名单与日志不符', 'the grade or listing shown is not the logged one');
  }

  // The report check page (/credit-reports/verify): a report file a bank was handed, checked
  // here against the published keys and the chain; what it proves is shown only then.
  function showReport(out, rep, got) {
    const e = rep.enterprise;
    const g = got.grades[got.grades.length - 1];
    const w = got.warnings[got.warnings.length - 1];
    const line = (zh, en, id) => {
      const p = document.createElement('p');
      if (id) p.id = id;
      p.append(bi(zh, en));
      return p;
    };
    const h = document.createElement('h3');
    h.textContent = e.name + ' · ' + e.uscc;
    out.replaceChildren(h,
      line('信用风险等级 ' + g.grade + '，评分 ' + (g.score_tenths / 10).toFixed(1) + '（模型 ' + g.model + '）',
        'Credit-risk grade ' + g.grade + ', score ' + (g.score_tenths / 10).toFixed(1) + ' (model ' + g.model + ')', 'r-grade'),
      line(w && w.listed ? '在失信预警名单上' : '不在失信预警名单上', w && w.listed ? 'On the warning list' : 'Not on the warning list', 'r-listed'),
      line('报告生成于 ' + utc(rep.issued_at) + '；' + got.grades.length + ' 次等级变更', 'Report made ' + utc(rep.issued_at) + '; ' + got.grades.length + ' grade changes', 'r-made'));
    const ol = document.createElement('ol');
    ol.id = 'r-history';
    for (const x of got.grades) {
      const li = document.createElement('li');
      li.textContent = utc(x.at) + ': ' + (x.previous || '–') + ' → ' + x.grade + ' (' + x.cause + ')' + (x.reason ? ' — ' + x.reason : '');
      ol.append(li);
    }
    out.append(ol);
    out.hidden = false;
  }

  async function runReportCheck(sec, file) {
    list.replaceChildren();
    state.fail = 0;
    state.incomplete = 0;
    const out = $('#report-result');
    out.hidden = true;
    const cs = reportCheckLines();
    let rep = null;
    try { rep = JSON.parse(await file.text()); } catch (e) { rep = null; }
    const keys = await publishedKeys(sec);
    if (!rep || rep.format !== 'traceseal/credit-report/v1' || !Array.isArray(rep.records) || !rep.enterprise) {
      for (const c of Object.values(cs)) c.done('fail', '这不是 traceseal 信用报告', 'this is not a traceseal credit report');
      return;
    }
    if (!keys) {
      for (const c of Object.values(cs)) c.done('incomplete', '无法获取公钥，请稍后再试', 'could not fetch the keys; try again later');
      return;
    }
    const got = await reportChecks(sec, rep, keys, rep.enterprise, cs);
    if (got && !state.fail) showReport(out, rep, got);
  }

  // ---------------------------------------------------------------- start
  const sec = $('#verify');
  const done = () => {
    root.dataset.verified = state.fail ? 'fail' : state.incomplete ? 'incomplete' : 'pass';
    root.dataset.ready = '1';
    if (window.performance && performance.mark) performance.mark('traceseal-ready');
    const s = $('#verify-summary');
    if (!s) return;
    if (state.fail) s.replaceChildren(bi('有检查未通过，请勿轻信此商品。', 'A check failed: do not trust this item.'));
    else if (state.incomplete) s.replaceChildren(bi('部分检查暂时无法完成，请稍后再扫一次。', 'Some checks could not be done now; scan again later.'));
    else s.replaceChildren(bi('所有适用的检查都已通过。', 'Every check that applies passed.'));
  };
  const picker = $('#report-file');
  if (sec && list && picker) {
    picker.addEventListener('change', () => {
      root.dataset.ready = '';
      const f = picker.files && picker.files[0];
      if (f) runReportCheck(sec, f).catch(() => { state.fail++; }).finally(done);
    });
    // Nothing checked yet: ready, but no verdict and no summary until a file is chosen.
    root.dataset.ready = '1';
  } else if (sec && list) {
    (sec.dataset.report ? runMerchant(sec) : run(sec)).catch(() => {
      // An unexpected error (malformed proofs): whatever did not finish failed.
      for (const li of list.querySelectorAll('li.run')) {
        li.className = 'fail';
        li.dataset.result = 'fail';
        li.querySelector('.st').textContent = MARK.fail;
        state.fail++;
      }
    }).finally(done);
  }
  else done();
})();
