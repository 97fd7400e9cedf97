// A Vite plugin: after the build is written, a .gz beside every text file of it (JS, CSS,
// HTML, SVG, JSON) that gzip makes smaller. app/spa.py sends it to browsers that accept
// gzip. Node's own zlib, best compression (built once, served many times), no timestamp in
// the gzip header: the same build always writes the same bytes (.ci/check-dist.sh).
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants, gzipSync } from "node:zlib";

const COMPRESSIBLE = /\.(js|css|html|svg|json)$/;

function* filesUnder(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/** @returns {import("vite").Plugin} */
export function precompress() {
  return {
    name: "aerie-precompress",
    apply: "build",
    writeBundle(options) {
      for (const path of filesUnder(options.dir)) {
        if (!COMPRESSIBLE.test(path)) continue;
        const plain = readFileSync(path);
        const packed = gzipSync(plain, { level: constants.Z_BEST_COMPRESSION });
        if (packed.length < plain.length) writeFileSync(`${path}.gz`, packed);
      }
    },
  };
}
