import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Relative asset URLs: the same build works at / and under any BASE_PATH.
export default defineConfig({
  base: "./",
  plugins: [preact()],
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
