/** Version written into provenance files; a unit test keeps it equal to package.json's. */
export const TOOL_NAME = 'taia-lab';
export const TOOL_VERSION = '0.1.0';
