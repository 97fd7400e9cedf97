// Types for precompress.js (plain JS: the type check runs without Node's types).
import type { Plugin } from "vite";

export function precompress(): Plugin;
