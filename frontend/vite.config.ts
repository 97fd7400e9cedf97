import { defineConfig } from "vite";
import preact from "@preact/preset-vite";
import { precompress } from "./precompress.js";

// Relative asset URLs: the same build works at / and under any BASE_PATH.
export default defineConfig({
  base: "./",
  // precompress: dist/ gets a .gz beside each text file (served by app/spa.py).
  plugins: [preact(), precompress()],
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
    // The lazily loaded 3D viewer (three.js) is ~640 kB; the board itself is ~50 kB.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:5000" },
  },
});
