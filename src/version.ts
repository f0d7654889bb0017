import pkg from "../package.json" with { type: "json" };

export const Version: string = pkg.version;
