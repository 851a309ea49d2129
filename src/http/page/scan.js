// traceseal scan page: language switch, "verify it yourself" (the proof bundle checked in the
// browser with WebCrypto: Ed25519 signatures, SHA-256 RFC 9162 Merkle proofs, the C2SP
// checkpoint signature, and the anchored root read from the chain with eth_call), and the
// problem report form. No dependencies; everything is served by traceseal.
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

  async function edVerify(pub, sig, msg) {
    const k = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    return crypto.subtle.verify({ name: 'Ed25519' }, k, sig, msg);
  }

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

  async function openNote(text, vk) {
    const cut = text.indexOf('\n\n');
    if (cut < 0) throw new Error('checkpoint has no signature block');
    const body = text.slice(0, cut + 1);
    const lines = body.slice(0, -1).split('\n');
    if (lines.length < 3 || !/^[1-9][0-9]{0,15}$/.test(lines[1])) throw new Error('checkpoint body is malformed');
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
    const rootHash = b64(lines[2]);
    if (rootHash.length !== 32) throw new Error('checkpoint root is not 32 bytes');
    return { origin: lines[0], size: Number(lines[1]), root: rootHash };
  }

  // ---------------------------------------------------------------- check list
  const list = $('#checks');
  const state = { fail: 0 };
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
    return {
      done(result, dzh, den) {
        li.className = result;
        li.dataset.result = result;
        st.textContent = result === 'pass' ? '✓' : result === 'fail' ? '✗' : '–';
        if (result === 'fail') state.fail++;
        if (dzh) d.replaceChildren(bi(dzh, den));
      },
    };
  }

  function markRecord(index, ok) {
    for (const el of document.querySelectorAll('[data-leaf="' + index + '"] .sig')) {
      el.classList.toggle('fail', !ok);
      el.dataset.browser = ok ? 'pass' : 'fail';
      el.replaceChildren(ok ? bi('✓ 本机已验证签名与证明', '✓ signature and proof checked here')
        : bi('✗ 本机验证失败', '✗ failed the check here'));
    }
  }

  // ---------------------------------------------------------------- the checks
  async function run(sec) {
    const code = sec.dataset.code;
    const cSig = check('code', '标签上的码的签名', "The label code's signature");
    if (!window.crypto || !crypto.subtle) {
      cSig.done('skip', '需要 HTTPS 安全连接才能在浏览器中验证', 'checking in the browser needs a secure (HTTPS) page');
      return;
    }
    try {
      const probe = new Uint8Array(32);
      probe[0] = 1;
      await edVerify(probe, new Uint8Array(64), new Uint8Array(0));
    } catch (e) {
      if (e && e.name === 'NotSupportedError') {
        cSig.done('skip', '此浏览器不支持 Ed25519，请更新浏览器', 'this browser cannot check Ed25519 signatures; please update it');
        return;
      }
    }
    let bundle = null, keys = null;
    if (sec.dataset.bundle) {
      try {
        const r = await fetch(sec.dataset.bundle, { headers: { accept: 'application/json' } });
        if (r.ok) bundle = await r.json();
      } catch (e) { /* reported below */ }
    }
    try {
      keys = bundle ? bundle.keys.issuers : (await (await fetch(sec.dataset.keys)).json()).keys.filter((k) => k.role === 'issuer');
    } catch (e) { keys = null; }
    // 1. The code on the label.
    const q = new URL(code).searchParams;
    const kid = q.get('k');
    const cut = code.indexOf('&s=');
    const key = (keys || []).find((k) => k.kid === kid);
    if (!key) {
      cSig.done(keys ? 'fail' : 'skip', keys ? '签发密钥 ' + kid + ' 不是本平台公布的密钥' : '无法获取公钥',
        keys ? 'issuer key ' + kid + ' is not one the service publishes' : 'could not fetch the public keys');
    } else {
      const pub = b64(key.public_key);
      const id = hex((await sha256(pub)).slice(0, 4));
      let ok = id === kid && cut > 0;
      if (ok) {
        try { ok = await edVerify(pub, b64(q.get('s')), te.encode('traceseal/code/v1\n' + code.slice(0, cut))); } catch (e) { ok = false; }
      }
      cSig.done(ok ? 'pass' : 'fail', ok ? 'Ed25519，密钥 ' + kid : '签名不符：码被改动或伪造',
        ok ? 'Ed25519, key ' + kid : 'the signature does not match: the code was altered or forged');
    }
    const cCp = check('checkpoint', '日志检查点的签名', "The log checkpoint's signature");
    const cInc = check('inclusion', '每条记录都在日志中（Merkle 证明）', 'Every record is in the log (Merkle proofs)');
    const cRec = check('records', '流转记录的签名', 'Signatures of the custody records');
    const cCons = check('consistency', '日志只增不改（一致性证明）', 'The log only grew (consistency proof)');
    const cChain = check('chain', '区块链上存证的根哈希', 'The root anchored on chain');
    if (!bundle) {
      for (const c of [cCp, cInc, cRec, cCons, cChain]) c.done('skip', '此码没有证明材料', 'no proof is available for this code');
      return;
    }
    // 2. Checkpoints.
    let cp = null, latest = null;
    try {
      const vk = await parseVkey(bundle.keys.log_vkey);
      cp = await openNote(bundle.checkpoint, vk);
      if (bundle.latest_checkpoint) latest = await openNote(bundle.latest_checkpoint, vk);
      cCp.done('pass', '规模 ' + cp.size + '，日志 ' + cp.origin, 'tree size ' + cp.size + ', log ' + cp.origin);
    } catch (e) {
      cCp.done('fail', String(e.message), String(e.message));
    }
    // 3. Records and their inclusion proofs.
    const actorKeys = new Map();
    const custody = [];
    let proven = 0, bad = 0, itemOk = false;
    for (const r of bundle.records || []) {
      let data, ok = false;
      try {
        data = b64(r.leaf_data);
        const target = r.tree_size ? latest : cp;
        if (target && (!r.tree_size || r.tree_size === target.size)) {
          ok = await inclusion(r.leaf_index, target.size, await leafHash(data), r.inclusion_proof.map(b64), target.root);
        }
      } catch (e) { ok = false; }
      if (ok) proven++; else { bad++; markRecord(r.leaf_index, false); }
      let text = '';
      try { text = td.decode(data); } catch (e) { text = ''; }
      if (r.kind === 'item') {
        itemOk = ok && text.split('\n').includes('code ' + bundle.code);
      } else if (r.kind === 'actor') {
        try {
          const op = JSON.parse(text.split('\n')[1]);
          if (op.op === 'add_key') actorKeys.set(op.actor + '/' + op.kid, op.public_key);
        } catch (e) { /* not a key record */ }
      } else if (r.kind === 'custody') {
        custody.push({ r, text, ok });
      }
    }
    const n = (bundle.records || []).length;
    if (bundle.code !== code) cInc.done('fail', '证明材料属于另一个码', 'the proof bundle is for another code');
    else if (bad === 0 && itemOk) cInc.done('pass', n + ' 条记录，全部在检查点中', n + ' records, all in the checkpoint');
    else cInc.done('fail', bad + ' 条记录的证明不成立' + (itemOk ? '' : '，签发记录不符'),
      bad + ' record proofs do not hold' + (itemOk ? '' : '; the issuance record does not match'));
    // 4. Custody signatures, with the keys the bundle's own logged actor records register.
    let sigOk = 0, sigBad = 0;
    for (const { r, text, ok } of custody) {
      let good = false;
      try {
        const lines = text.split('\n');
        const st = JSON.parse(lines[1]);
        const sig = lines[2].replace(/^sig /, '');
        const pubB64 = actorKeys.get(st.actor + '/' + st.kid);
        if (lines[0] === 'traceseal/custody/v1' && pubB64) {
          const pub = b64(pubB64);
          good = hex((await sha256(pub)).slice(0, 4)) === st.kid &&
            await edVerify(pub, b64(sig), te.encode(lines[0] + '\n' + lines[1] + '\n'));
        }
      } catch (e) { good = false; }
      if (good) sigOk++; else sigBad++;
      if (ok) markRecord(r.leaf_index, good);
    }
    if (custody.length === 0) cRec.done('skip', '没有流转记录', 'no custody records');
    else if (sigBad === 0) cRec.done('pass', sigOk + ' 个签名有效', sigOk + ' signatures valid');
    else cRec.done('fail', sigBad + ' 个签名无效', sigBad + ' signatures invalid');
    // 5. Consistency up to the latest checkpoint.
    if (!latest) cCons.done('skip', '没有更新的检查点', 'no newer checkpoint');
    else if (!cp) cCons.done('fail', '检查点无效', 'the checkpoint is invalid');
    else {
      let ok = false;
      try { ok = await consistency(cp.size, latest.size, bundle.consistency_proof.map(b64), cp.root, latest.root); } catch (e) { ok = false; }
      cCons.done(ok ? 'pass' : 'fail', ok ? cp.size + ' → ' + latest.size : '一致性证明不成立',
        ok ? cp.size + ' → ' + latest.size : 'the consistency proof does not hold');
    }
    // 6. The chain.
    await chainCheck(sec, bundle, cp, cChain);
  }

  async function rpc(url, method, params) {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const j = await r.json();
    if (j.error) throw Object.assign(new Error(j.error.message || 'rpc error'), { rpc: true });
    return j.result;
  }

  async function chainCheck(sec, bundle, cp, c) {
    const a = bundle.anchor;
    if (!a) return c.done('skip', '本服务未配置上链', 'this service does not anchor');
    if (!['anchored', 'confirmed', 'finalized'].includes(a.status)) {
      return c.done('skip', '尚未上链（存证进行中）', 'not anchored yet (anchoring pending)');
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
      if (out.length >= 96 && same(out.slice(32, 64), cp.root) && same(out.slice(64, 96), noteHash)) {
        c.done('pass', '链 ' + chainId + ' 合约 ' + a.contract.slice(0, 10) + '… 上的根与检查点一致',
          'chain ' + chainId + ', contract ' + a.contract.slice(0, 10) + '…: the root matches the checkpoint');
      } else {
        c.done('fail', '链上的根与检查点不一致', 'the root on chain differs from the checkpoint');
      }
    } catch (e) {
      if (e && e.rpc) c.done('fail', '合约中没有这个检查点：' + e.message, 'the contract has no such checkpoint: ' + e.message);
      else c.done('skip', '无法连接区块链节点', 'could not reach the chain node');
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

  // ---------------------------------------------------------------- start
  const sec = $('#verify');
  const done = () => {
    root.dataset.verified = state.fail ? 'fail' : 'pass';
    root.dataset.ready = '1';
    if (window.performance && performance.mark) performance.mark('traceseal-ready');
    const s = $('#verify-summary');
    if (s) s.replaceChildren(state.fail ? bi('有检查未通过，请勿轻信此商品。', 'A check failed: do not trust this item.')
      : bi('检查完成。', 'Checks complete.'));
  };
  if (sec && list) run(sec).catch(() => { state.fail++; }).finally(done);
  else done();
})();
