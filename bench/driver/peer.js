/** The Python peer (bench/peer/): making sure its interpreter has torch and nibabel. */
'use strict';
const { log } = require('./common');
const { sh } = require('./children');

const PEER_CHECK =
  'import json, torch, nibabel, numpy; print(json.dumps({"torch": torch.__version__, "nibabel": nibabel.__version__, "numpy": numpy.__version__}))';

/**
 * Makes sure the peer runs: Debian's python3-torch (PyTorch 1.13.1 over the same LibTorch as the
 * addon) and python3-nibabel, installed through apt when missing and we may. Returns the peer's
 * versions, or null with the reason logged.
 */
function ensurePeer(python) {
  const probe = () => {
    const r = sh(python, ['-c', PEER_CHECK]);
    if (r.status !== 0) return null;
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      return null;
    }
  };
  let v = probe();
  if (v) return v;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = sh('sh', ['-c', 'command -v apt-get']).status === 0;
  if (!isRoot || !hasApt) {
    log(`the peer needs ${python} with torch and nibabel: run 'apt-get install python3-torch python3-nibabel' as root (or pass --python), or use --no-peer`);
    return null;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    sh('apt-get', ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', 'python3-torch', 'python3-nibabel'], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  log('installing the peer: apt-get install -y python3-torch python3-nibabel');
  let r = install();
  if (r.status !== 0) {
    log('apt-get install failed; running apt-get update and trying again');
    sh('apt-get', ['update', '-o', 'DPkg::Lock::Timeout=600'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    r = install();
  }
  v = probe();
  if (!v) log(`the peer is still not importable with ${python} (apt-get exit ${r.status}); continuing without it`);
  return v;
}

module.exports = { PEER_CHECK, ensurePeer };
