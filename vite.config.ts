/**
 * Vite config for the web front end in web/ (dev server, production build into web-dist/, preview).
 *
 * The core's WebAssembly.Memory is shared, so the page and its worker must be cross-origin
 * isolated: every response carries COOP same-origin and COEP require-corp.
 *
 * The Linux guest's images live outside the repository (guest-images/linux/build.sh builds them
 * into a cache); web/vite-linux-images.ts serves them in dev and emits them into the build as
 * guest/linux/bzImage and guest/linux/initramfs.img.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { linuxImages } from "./web/vite-linux-images.js";

const repoRoot = fileURLToPath(new URL(".", import.meta.url));

const isolationHeaders = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export default defineConfig({
  root: "web",
  plugins: [linuxImages({ repoRoot, headers: isolationHeaders })],
  // Relative asset URLs: the build works from any path (e.g. a GitHub Pages project site).
  base: "./",
  // Guest images are binary assets: `new URL("….elf", import.meta.url)` must emit them as files.
  assetsInclude: ["**/*.elf"],
  build: {
    outDir: "../web-dist",
    emptyOutDir: true,
    // Never inline the core (.wasm) or a guest image as a data: URL.
    assetsInlineLimit: 0,
    target: "es2022",
  },
  worker: { format: "es" },
  server: {
    port: 5173,
    strictPort: false,
    headers: isolationHeaders,
    // The app imports ../src, ../build/trapdoor.wasm and ../guest-images from outside web/.
    fs: { allow: [repoRoot] },
  },
  preview: {
    port: 4173,
    strictPort: false,
    headers: isolationHeaders,
  },
});
