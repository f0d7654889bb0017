const Entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => Entities[c]!);

/** A plain, inline-styled frame: mail clients ignore style sheets and most of CSS. */
export function emailFrame(options: {
  lang: string;
  partnerName: string;
  logoUrl: string | null;
  bodyHtml: string;
}): string {
  const logo = options.logoUrl
    ? `<img src="${escapeHtml(options.logoUrl)}" alt="${escapeHtml(options.partnerName)}" ` +
      `style="max-height:48px;max-width:200px" />`
    : `<strong>${escapeHtml(options.partnerName)}</strong>`;
  return [
    "<!doctype html>",
    `<html lang="${options.lang}"><head><meta charset="utf-8" />`,
    '<meta name="viewport" content="width=device-width" /></head>',
    '<body style="font-family:Arial,Helvetica,sans-serif;color:#1f2933;line-height:1.5">',
    `<div style="max-width:560px;margin:0 auto;padding:24px"><p>${logo}</p>`,
    options.bodyHtml,
    "</div></body></html>",
  ].join("");
}
