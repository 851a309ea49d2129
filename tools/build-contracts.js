#!/usr/bin/env node
// Deterministic build of contracts/*.sol with the pinned solc-js (tools/package.json).
//
//   node tools/build-contracts.js           compile and write contracts/out/<Name>.json
//   node tools/build-contracts.js --check   compile in memory; exit 1 if the committed artifacts
//                                           are missing, stale or orphaned (what CI runs)
//
// Needs `npm ci` in tools/ first. Works from any working directory. The metadata hash is left out
// of the bytecode (bytecodeHash "none"), so the output depends only on the sources, the compiler
// version and the settings below: the same inputs give byte-for-byte the same artifacts.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const CONTRACTS_DIR = path.join(ROOT, 'contracts');
const OUT_DIR = path.join(CONTRACTS_DIR, 'out');
const REBUILD_HINT = 'run: node tools/build-contracts.js';

let solc;
try {
  solc = require(path.join(__dirname, 'node_modules', 'solc'));
} catch (e) {
  console.error(`error: cannot load solc from tools/node_modules (${e.message}); run: (cd tools && npm ci)`);
  process.exit(1);
}

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none' },
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
};

const rel = (p) => path.relative(ROOT, p).split(path.sep).join('/');
const sha256Hex = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function fail(msg) {
  console.error(`error: ${msg}`);
  process.exit(1);
}

// Resolves imports inside contracts/ only (source unit names are repo-relative paths).
function findImports(name) {
  const p = path.resolve(ROOT, name);
  if (!p.startsWith(CONTRACTS_DIR + path.sep) || !fs.existsSync(p)) {
    return { error: `import not found (only contracts/ is searched): ${name}` };
  }
  return { contents: fs.readFileSync(p, 'utf8') };
}

// Compiles every contracts/*.sol; returns Map<outputPath, artifact JSON text> in name order.
function compileAll() {
  const files = fs
    .readdirSync(CONTRACTS_DIR)
    .filter((f) => f.endsWith('.sol'))
    .sort();
  if (files.length === 0) fail('no contracts/*.sol found');

  const sources = {};
  const sourceHash = {};
  for (const f of files) {
    const unit = `contracts/${f}`;
    const bytes = fs.readFileSync(path.join(CONTRACTS_DIR, f));
    sources[unit] = { content: bytes.toString('utf8') };
    sourceHash[unit] = sha256Hex(bytes);
  }

  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  let errors = 0;
  for (const d of output.errors || []) {
    const text = (d.formattedMessage || d.message).trimEnd();
    if (d.severity === 'error') {
      errors += 1;
      console.error(text);
    } else {
      console.warn(text);
    }
  }
  if (errors > 0) fail(`solc reported ${errors} error(s)`);

  const version = solc.version();
  const artifacts = new Map();
  const origin = new Map();
  for (const unit of Object.keys(sources)) {
    const contracts = (output.contracts || {})[unit] || {};
    for (const name of Object.keys(contracts).sort()) {
      if (origin.has(name)) {
        fail(`contract name ${name} is defined in both ${origin.get(name)} and ${unit}`);
      }
      origin.set(name, unit);
      const c = contracts[name];
      const artifact = {
        contractName: name,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        compiler: { name: 'solc-js', version, settings: SETTINGS },
        sourceSha256: sourceHash[unit],
      };
      artifacts.set(path.join(OUT_DIR, `${name}.json`), {
        unit,
        text: `${JSON.stringify(artifact, null, 2)}\n`,
      });
    }
  }
  return artifacts;
}

// Existing *.json files in contracts/out.
function existingArtifacts() {
  if (!fs.existsSync(OUT_DIR)) return [];
  return fs
    .readdirSync(OUT_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(OUT_DIR, f));
}

// Top-level keys whose values differ between two artifact texts (for a precise message).
function differingKeys(oldText, newText) {
  let oldObj;
  try {
    oldObj = JSON.parse(oldText);
  } catch (e) {
    return ['(not valid JSON)'];
  }
  const newObj = JSON.parse(newText);
  const keys = new Set([...Object.keys(oldObj), ...Object.keys(newObj)]);
  const diff = [...keys].filter((k) => JSON.stringify(oldObj[k]) !== JSON.stringify(newObj[k]));
  return diff.length > 0 ? diff : ['(formatting only)'];
}

function check(artifacts) {
  const problems = [];
  for (const [file, { unit, text }] of artifacts) {
    if (!fs.existsSync(file)) {
      problems.push(`${rel(file)}: missing (compiled from ${unit})`);
      continue;
    }
    const onDisk = fs.readFileSync(file, 'utf8');
    if (onDisk !== text) {
      problems.push(
        `${rel(file)}: stale, differs from compiling ${unit} in: ${differingKeys(onDisk, text).join(', ')}`,
      );
    }
  }
  for (const file of existingArtifacts()) {
    if (!artifacts.has(file)) {
      problems.push(`${rel(file)}: orphaned (no contract of that name in contracts/*.sol)`);
    }
  }
  if (problems.length > 0) {
    console.error('contracts: committed artifacts do not match the sources:');
    for (const p of problems) console.error(`  ${p}`);
    console.error(REBUILD_HINT);
    process.exit(1);
  }
  console.log('contracts: artifacts up to date');
}

function build(artifacts) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [file, { text }] of artifacts) {
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (old === text) {
      console.log(`contracts: ${rel(file)} unchanged`);
    } else {
      fs.writeFileSync(file, text);
      console.log(`contracts: wrote ${rel(file)}`);
    }
  }
  for (const file of existingArtifacts()) {
    if (!artifacts.has(file)) {
      fs.unlinkSync(file);
      console.log(`contracts: removed orphaned ${rel(file)}`);
    }
  }
  console.log(`contracts: compiled with solc-js ${solc.version()}`);
}

function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(' ')} (usage: build-contracts.js [--check])`);
  const artifacts = compileAll();
  if (args.includes('--check')) check(artifacts);
  else build(artifacts);
}

main();
