import type { CodegenConfig } from '@graphql-codegen/cli'

// Operations are written next to the code that uses them with `graphql(...)`
// and typed from the committed `../schema.graphql`. The output in `src/gql/`
// is generated (gitignored) before dev, build, typecheck and test.
const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/**/*.{ts,vue}', '!src/gql/**/*'],
  ignoreNoDocuments: true,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents are plain strings (TypedDocumentString): no `graphql`
        // runtime in the browser bundle.
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTime: 'string' },
        skipTypename: true,
      },
    },
  },
}

export default config
