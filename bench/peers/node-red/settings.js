// Node-RED settings for the benchmark peer: defaults, except where it listens and what it logs.
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: parseInt(process.env.PORT || "1880", 10),
    flowFile: "flows.json",
    credentialSecret: false,
    logging: { console: { level: "warn", metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
};
