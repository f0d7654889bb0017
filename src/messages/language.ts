export const Languages = ["en", "es", "pt"] as const;
export type Language = (typeof Languages)[number];
