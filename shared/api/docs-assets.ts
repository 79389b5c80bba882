/**
 * Static files of the /docs reference page (Redoc's standalone bundle and its licences). They are not imported by
 * code, so esbuild does not bundle them: the CDK stack copies each `from` (relative to the project root) next to the
 * docs function's index.mjs as `name` (NodejsFunction `commandHooks.afterBundling`, see docsAssetCopyCommands), and
 * the handler serves them at /docs/<name>.
 */
export interface DocsAsset {
  /** Path relative to the project root. */
  from: string;
  /** File name in the bundle directory, served at /docs/<name> (must match the route's [a-z0-9.-]+). */
  name: string;
  contentType: string;
}

/** The renderer's script, referenced by the HTML page. */
export const DOCS_SCRIPT = 'redoc.standalone.js';

export const DOCS_ASSETS: readonly DocsAsset[] = [
  {
    from: 'node_modules/redoc/bundles/redoc.standalone.js',
    name: DOCS_SCRIPT,
    contentType: 'text/javascript; charset=utf-8',
  },
  {
    from: 'node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt',
    name: 'redoc.standalone.js.license.txt',
    contentType: 'text/plain; charset=utf-8',
  },
  { from: 'node_modules/redoc/LICENSE', name: 'redoc.license.txt', contentType: 'text/plain; charset=utf-8' },
];

/** Shell commands for `afterBundling(inputDir, outputDir)`: copy every asset into the bundle directory. */
export function docsAssetCopyCommands(inputDir: string, outputDir: string): string[] {
  const quote = (path: string) => `'${path.replaceAll("'", "'\\''")}'`;
  return DOCS_ASSETS.map((asset) => `cp ${quote(`${inputDir}/${asset.from}`)} ${quote(`${outputDir}/${asset.name}`)}`);
}
