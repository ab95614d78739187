import { readdirSync } from "node:fs";
import js from "@eslint/js";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";
import { noImportCycle } from "./scripts/eslint-import-cycles.mjs";

// Layering (docs/architecture.md): protocols/* never import lib/, no protocol imports another
// (protocols/net, the listener limits, is no protocol), and only transport/driver files touch sockets.
const protocols = readdirSync("protocols", { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== "net")
  .map((e) => e.name);
const SOCKET_MODULES = ["dgram", "net", "tls", "http", "https", "http2"].flatMap((m) => [m, `node:${m}`]).concat(["ws"]);
// The files of protocols/ that do I/O: transports, drivers, the HTTP and UDP endpoints, the listener limits.
const IO_FILES = ["protocols/*/transport/**", "protocols/net/**", "protocols/**/*-driver.ts", "protocols/**/udp.ts", "protocols/osp/http-client.ts", "protocols/osp/http-server.ts"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "out/**", "bench/results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", URL: "readonly", performance: "readonly", queueMicrotask: "readonly", structuredClone: "readonly", TextEncoder: "readonly", TextDecoder: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "off",
      "no-control-regex": "off",
    },
  },
  {
    files: ["protocols/**/*.ts", "lib/**/*.ts"],
    plugins: { "import-x": importX, layering: { rules: { "no-import-cycle": noImportCycle } } },
    settings: { "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js"], extensionAlias: { ".js": [".ts", ".js"] } })] },
    rules: {
      "import-x/no-cycle": "error",
      "layering/no-import-cycle": "error",
      "import-x/no-restricted-paths": [
        "error",
        {
          zones: [
            { target: "./protocols", from: "./lib", message: "protocols/* never import lib/ (imports point down only)" },
            ...protocols.map((p) => ({ target: `./protocols/${p}`, from: "./protocols", except: [`./${p}`, "./net"], message: `protocols/${p} imports no other protocol: pass bytes or plain values` })),
            { target: "./protocols/net", from: "./protocols", except: ["./net"], message: "protocols/net knows sockets, not messages: it imports no protocol" },
          ],
        },
      ],
    },
  },
  {
    files: ["protocols/**/*.ts"],
    ignores: IO_FILES,
    rules: {
      "no-restricted-imports": ["error", { paths: SOCKET_MODULES.map((name) => ({ name, message: "only transport/driver files of protocols/ do I/O: codecs, transactions, proxies and machines stay sans-I/O" })) }],
    },
  },
);
