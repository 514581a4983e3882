import { fileURLToPath, URL } from 'node:url'
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

/**
 * After a build: writes `.vite/modules.json` (chunk → the modules in it, for
 * scripts/bundle-check.mjs) and precompressed `.gz`/`.br` siblings of the
 * text assets, which `yishi serve` sends to browsers that accept them.
 */
function buildArtifacts(): Plugin {
  let outDir = 'dist'
  const modules: Record<string, string[]> = {}
  return {
    name: 'yishi-build-artifacts',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir
    },
    generateBundle(_options, bundle) {
      for (const [file, chunk] of Object.entries(bundle)) {
        if (chunk.type === 'chunk') {
          modules[file] = Object.keys(chunk.modules).map((id) => id.replace(process.cwd() + '/', ''))
        }
      }
    },
    writeBundle(_options, bundle) {
      mkdirSync(join(outDir, '.vite'), { recursive: true })
      writeFileSync(join(outDir, '.vite', 'modules.json'), JSON.stringify(modules, null, 1))
      for (const file of [...Object.keys(bundle), 'index.html']) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue
        const path = join(outDir, file)
        const raw = readFileSync(path)
        if (raw.length < 1024) continue
        writeFileSync(path + '.gz', gzipSync(raw, { level: 9 }))
        writeFileSync(
          path + '.br',
          brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        )
      }
    },
  }
}

/**
 * Keeps every font and image on this origin: Vant's icon font lists a copy
 * on Alibaba's CDN after its inlined woff2, which chromium fetches too. A
 * phone should not reach a third party (the CSP's `font-src 'self' data:`
 * would refuse it anyway), so the remote fallback is cut from the CSS, and
 * any other remote `url()` fails the build.
 *
 * The inlined woff2 itself (34 KB of base64, most of the entry CSS after
 * compression) becomes a file of its own: the stylesheet blocks the first
 * paint, the font does not (the icons appear when it arrives), and on a slow
 * phone those bytes are better spent on the page.
 */
function sameOriginAssets(): Plugin {
  const remoteFallback = /,\s*url\((["']?)(?:https?:)?\/\/at\.alicdn\.com\/[^)]*\)\s*format\((["'])woff\2\)/g
  const inlinedWoff2 = /url\((["']?)data:font\/woff2;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\1\)/g
  let base = '/'
  return {
    name: 'yishi-same-origin-assets',
    apply: 'build',
    configResolved(config) {
      base = config.base
    },
    generateBundle(_options, bundle) {
      const fonts = new Map<string, string>()
      for (const [file, asset] of Object.entries(bundle)) {
        if (asset.type !== 'asset' || !file.endsWith('.css') || typeof asset.source !== 'string') continue
        asset.source = asset.source.replace(remoteFallback, '')
        asset.source = asset.source.replace(inlinedWoff2, (_m, _q, data: string) => {
          let name = fonts.get(data)
          if (!name) {
            const ref = this.emitFile({ type: 'asset', name: 'icons.woff2', source: Buffer.from(data, 'base64') })
            name = this.getFileName(ref)
            fonts.set(data, name)
          }
          return `url(${base}${name})`
        })
        const remote = asset.source.match(/url\((["']?)(?:https?:)?\/\/[^)]*\)/)
        if (remote) this.error(`${file} loads ${remote[0]} from another origin`)
      }
    },
  }
}

const backend = process.env.YISHI_DEV_BACKEND ?? 'http://127.0.0.1:8080'

// Vant (resident pages) and Element Plus (admin panel, src/admin only) are
// imported on demand: only the components a chunk uses are bundled into it.
export default defineConfig({
  plugins: [
    vue(),
    sameOriginAssets(),
    buildArtifacts(),
    Components({
      dts: false,
      dirs: [],
      resolvers: [VantResolver(), ElementPlusResolver({ importStyle: 'css' })],
    }),
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    __VUE_PROD_DEVTOOLS__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
  },
  build: {
    target: 'es2020',
    cssCodeSplit: true,
    manifest: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      '/graphql': { target: backend, ws: true, changeOrigin: true },
      '/api': { target: backend, changeOrigin: true },
      '/healthz': { target: backend },
    },
  },
})
