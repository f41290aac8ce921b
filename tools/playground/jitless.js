// Imported FIRST by app.js, so it runs before @ag-ui/client's schemas are used: zod 4 (behind
// @ag-ui/core and @ag-ui/client) probes `new Function("")` to compile fast parsers, which the
// page's CSP (script-src 'self', no 'unsafe-eval') refuses and Chromium reports as a
// violation. Jitless parsing never probes.
import { config } from "zod/v4";

config({ jitless: true });
