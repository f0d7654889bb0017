/**
 * The status catalogue: every USCIS title we know, its category, our Portuguese, and a Spanish
 * title for when USCIS sends none.
 *
 * Spanish precedence: USCIS's own Spanish (`current_case_status_text_es`) always wins and is
 * kept verbatim. `titleEs` here is only a fallback for answers that come without it. Two of the
 * Spanish titles are confirmed from the live service (`esConfirmed: true`); the rest are ours.
 */

export const Categories = [
  "received",
  "biometrics",
  "in_review",
  "transferred",
  "rfe",
  "rfe_response_received",
  "noid",
  "interview",
  "approved",
  "card_production",
  "card_mailed",
  "card_delivered",
  "document_mailed",
  "returned_mail",
  "denied",
  "rejected",
  "withdrawn",
  "revoked",
  "closed",
  "unknown",
] as const;

export type Category = (typeof Categories)[number];

/** Categories after which a case rarely moves again: checked less often. */
export const SettledCategories: ReadonlySet<Category> = new Set([
  "card_delivered",
  "denied",
  "rejected",
  "withdrawn",
  "revoked",
  "closed",
]);

export interface StatusEntry {
  category: Category;
  /** Our Portuguese title, or null when the title is not in the catalogue. */
  titlePt: string | null;
  /** Fallback Spanish, used only when USCIS sends no Spanish of its own. */
  titleEs?: string | null;
  /** The catalogue's spelling of the English title, or null when unknown. */
  titleEn?: string | null;
  known: boolean;
}

export interface CatalogueTitle {
  titleEn: string;
  category: Category;
  titlePt: string;
  titleEs: string;
  /** The Spanish was seen on the live service, not written by us. */
  esConfirmed: boolean;
}

type Row = [titleEn: string, category: Category, titlePt: string, titleEs: string];

// Grouped as in uscis-torch-notes.md. Name and birth-date updates, duplicate notices and
// expedite answers stay "received": the case itself has not moved past intake.
const Rows: Row[] = [
  ["Case Was Received", "received", "Caso recebido", "Caso Fue Recibido"],
  [
    "Case Was Received and A Receipt Notice Was Sent",
    "received",
    "Caso recebido e aviso de recebimento enviado",
    "Caso Fue Recibido y Se Envió un Aviso de Recibo",
  ],
  [
    "Case Was Received and A Receipt Notice Was Emailed",
    "received",
    "Caso recebido e aviso de recebimento enviado por e-mail",
    "Caso Fue Recibido y Se Envió un Aviso de Recibo por Correo Electrónico",
  ],
  [
    "Fingerprint Fee Was Received",
    "received",
    "Taxa de coleta de digitais recebida",
    "Se Recibió el Pago por la Toma de Huellas",
  ],
  ["Fees Were Waived", "received", "Taxas dispensadas", "Se Eximió el Pago de las Tarifas"],
  ["Case Was Reopened", "received", "Caso reaberto", "Caso Fue Reabierto"],
  [
    "Duplicate Notice Was Mailed",
    "received",
    "Segunda via do aviso enviada pelo correio",
    "Se Envió por Correo un Duplicado del Aviso",
  ],
  ["Name Was Updated", "received", "Nome atualizado", "Se Actualizó el Nombre"],
  [
    "Date of Birth Was Updated",
    "received",
    "Data de nascimento atualizada",
    "Se Actualizó la Fecha de Nacimiento",
  ],
  [
    "Expedite Request Received",
    "received",
    "Pedido de urgência recebido",
    "Se Recibió la Solicitud de Trámite Acelerado",
  ],
  [
    "Expedite Request Denied",
    "received",
    "Pedido de urgência negado",
    "Se Denegó la Solicitud de Trámite Acelerado",
  ],

  [
    "Case Was Updated To Show Fingerprints Were Taken",
    "biometrics",
    "Caso atualizado: impressões digitais coletadas",
    "Caso Fue Actualizado Para Mostrar Que Se Tomaron las Huellas",
  ],
  [
    "Fingerprint And Biometrics Appointment Was Scheduled",
    "biometrics",
    "Coleta de digitais e biometria agendada",
    "Se Programó la Cita para Huellas y Datos Biométricos",
  ],
  [
    "Case Was Updated To Show That No One Appeared for In-Person Processing",
    "biometrics",
    "Caso atualizado: ninguém compareceu ao atendimento presencial",
    "Caso Fue Actualizado Para Mostrar Que Nadie Se Presentó al Trámite en Persona",
  ],

  [
    "Case Is Being Actively Reviewed By USCIS",
    "in_review",
    "Caso em análise ativa pelo USCIS",
    "Caso Está Siendo Revisado Activamente por USCIS",
  ],
  [
    "Correspondence Was Received And USCIS Is Reviewing It",
    "in_review",
    "Correspondência recebida e em análise pelo USCIS",
    "Se Recibió la Correspondencia y USCIS la Está Revisando",
  ],
  [
    "Case Was Transferred And A New Office Has Jurisdiction",
    "transferred",
    "Caso transferido: um novo escritório é responsável por ele",
    "Caso Fue Transferido y Una Nueva Oficina Tiene Jurisdicción",
  ],
  [
    "Case Transferred To Another Office",
    "transferred",
    "Caso transferido para outro escritório",
    "Caso Transferido a Otra Oficina",
  ],

  [
    "Request for Initial Evidence Was Sent",
    "rfe",
    "Pedido de evidências iniciais enviado",
    "Se Envió una Solicitud de Evidencia Inicial",
  ],
  [
    "Request for Additional Evidence Was Sent",
    "rfe",
    "Pedido de evidências adicionais enviado",
    "Se Envió una Solicitud de Evidencia Adicional",
  ],
  [
    "Response To USCIS' Request For Evidence Was Received",
    "rfe_response_received",
    "Resposta ao pedido de evidências do USCIS recebida",
    "Se Recibió la Respuesta a la Solicitud de Evidencia de USCIS",
  ],
  // USCIS shows this one when the answer to its request arrives; the request itself is
  // "...Evidence Was Sent".
  [
    "Request For Evidence Was Received",
    "rfe_response_received",
    "Resposta ao pedido de evidências recebida",
    "Se Recibió la Respuesta a la Solicitud de Evidencia",
  ],
  [
    "Notice Of Intent To Deny Was Sent",
    "noid",
    "Notificação de intenção de indeferimento enviada",
    "Se Envió un Aviso de Intención de Denegar",
  ],

  [
    "Ready to Be Scheduled for An Interview",
    "interview",
    "Pronto para agendamento da entrevista",
    "Listo Para Programar una Entrevista",
  ],
  ["Interview Was Scheduled", "interview", "Entrevista agendada", "Se Programó la Entrevista"],
  [
    "Interview Was Rescheduled",
    "interview",
    "Entrevista reagendada",
    "Se Reprogramó la Entrevista",
  ],
  [
    "Request To Reschedule My Appointment Was Received",
    "interview",
    "Pedido de reagendamento do meu atendimento recebido",
    "Se Recibió la Solicitud Para Reprogramar Mi Cita",
  ],
  [
    "Interview Was Completed And My Case Must Be Reviewed",
    "interview",
    "Entrevista realizada; meu caso ainda será analisado",
    "La Entrevista Fue Completada y Mi Caso Debe Ser Revisado",
  ],
  [
    "Interview Cancelled And Notice Ordered",
    "interview",
    "Entrevista cancelada e aviso emitido",
    "Entrevista Cancelada y Se Ordenó un Aviso",
  ],

  ["Case Was Approved", "approved", "Caso aprovado", "Caso Fue Aprobado"],
  [
    "Case Approval Was Affirmed",
    "approved",
    "Aprovação do caso confirmada",
    "Se Confirmó la Aprobación del Caso",
  ],
  [
    "Case Was Approved And My Decision Was Emailed",
    "approved",
    "Caso aprovado e decisão enviada por e-mail",
    "Caso Fue Aprobado y Mi Decisión Fue Enviada por Correo Electrónico",
  ],
  [
    "Case Was Approved And A Decision Notice Was Sent",
    "approved",
    "Caso aprovado e aviso de decisão enviado",
    "Caso Fue Aprobado y Se Envió un Aviso de Decisión",
  ],
  [
    "Case Was Approved And USCIS Notified The U.S. Consulate or Port of Entry",
    "approved",
    "Caso aprovado e o USCIS notificou o consulado dos EUA ou o porto de entrada",
    "Caso Fue Aprobado y USCIS Notificó al Consulado de EE.UU. o al Puerto de Entrada",
  ],
  [
    "Case Approval Was Certified By USCIS",
    "approved",
    "Aprovação do caso certificada pelo USCIS",
    "USCIS Certificó la Aprobación del Caso",
  ],
  [
    "Case Approval Was Reaffirmed And Mailed Back To Department Of State",
    "approved",
    "Aprovação do caso reafirmada e devolvida ao Departamento de Estado",
    "Se Reafirmó la Aprobación del Caso y Se Devolvió al Departamento de Estado",
  ],
  [
    "Request For A Duplicate Card Was Approved",
    "approved",
    "Pedido de segunda via do cartão aprovado",
    "Se Aprobó la Solicitud de un Duplicado de la Tarjeta",
  ],

  [
    "New Card Is Being Produced",
    "card_production",
    "Novo cartão em produção",
    "Nueva Tarjeta Está Siendo Producida",
  ],
  [
    "Permanent Resident Card Is Being Produced",
    "card_production",
    "Green card (cartão de residente permanente) em produção",
    "Tarjeta de Residente Permanente Está Siendo Producida",
  ],
  [
    "Card Was Mailed To Me",
    "card_mailed",
    "Cartão enviado pelo correio",
    "Tarjeta Me Fue Enviada por Correo",
  ],
  [
    "Card Was Picked Up By The United States Postal Service",
    "card_mailed",
    "Cartão retirado pelo serviço postal dos EUA (USPS)",
    "Tarjeta Fue Recogida por el Servicio Postal de EE.UU.",
  ],
  [
    "Card Was Delivered To Me By The Post Office",
    "card_delivered",
    "Cartão entregue pelo correio",
    "Tarjeta Me Fue Entregada Por El Servicio Postal De EE.UU.",
  ],
  [
    "Card Was Determined As Undeliverable By The Post Office",
    "returned_mail",
    "O correio não conseguiu entregar o cartão",
    "El Servicio Postal Determinó Que la Tarjeta No Se Puede Entregar",
  ],
  [
    "Card Is Being Returned to USCIS by Post Office",
    "returned_mail",
    "Cartão sendo devolvido ao USCIS pelo correio",
    "Tarjeta Está Siendo Devuelta a USCIS por el Servicio Postal",
  ],
  [
    "Card Was Returned To USCIS",
    "returned_mail",
    "Cartão devolvido ao USCIS",
    "Tarjeta Fue Devuelta a USCIS",
  ],
  [
    "Document Was Mailed To Me",
    "document_mailed",
    "Documento enviado pelo correio",
    "Documento Me Fue Enviado por Correo",
  ],
  [
    "Travel Document Was Mailed",
    "document_mailed",
    "Documento de viagem enviado pelo correio",
    "Se Envió por Correo el Documento de Viaje",
  ],
  // There is no separate category for a document being made: like a card, it is produced and
  // then mailed, so the same category tells the user what comes next.
  [
    "Advance Parole Document Was Produced",
    "card_production",
    "Documento de advance parole (permissão de viagem) produzido",
    "Se Produjo el Documento de Permiso Adelantado de Viaje",
  ],
  [
    "Reentry Permit Was Produced",
    "card_production",
    "Permissão de reentrada produzida",
    "Se Produjo el Permiso de Reingreso",
  ],
  [
    "Refugee Travel Document Was Produced",
    "card_production",
    "Documento de viagem de refugiado produzido",
    "Se Produjo el Documento de Viaje de Refugiado",
  ],
  [
    "Document Is Being Held For 180 Days",
    "returned_mail",
    "Documento retido por 180 dias",
    "El Documento Está Siendo Retenido por 180 Días",
  ],
  [
    "Notice Was Returned To USCIS Because The Post Office Could Not Deliver It",
    "returned_mail",
    "Aviso devolvido ao USCIS porque o correio não conseguiu entregá-lo",
    "El Aviso Fue Devuelto a USCIS Porque el Servicio Postal No Pudo Entregarlo",
  ],

  ["Case Was Denied", "denied", "Caso negado", "Caso Fue Denegado"],
  [
    "Case Was Denied And My Decision Notice Mailed",
    "denied",
    "Caso negado e aviso de decisão enviado pelo correio",
    "Caso Fue Denegado y Se Envió por Correo el Aviso de Mi Decisión",
  ],
  [
    "Denial Was Upheld by Court",
    "denied",
    "Negativa mantida pelo tribunal",
    "La Denegación Fue Confirmada por el Tribunal",
  ],
  [
    "Case Rejected Because I Sent An Incorrect Fee",
    "rejected",
    "Caso rejeitado porque enviei a taxa incorreta",
    "Caso Rechazado Porque Envié una Tarifa Incorrecta",
  ],
  [
    "Case Was Rejected Because I Did Not Sign My Form",
    "rejected",
    "Caso rejeitado porque não assinei o formulário",
    "Caso Fue Rechazado Porque No Firmé Mi Formulario",
  ],
  [
    "Case Was Rejected Because It Was Improperly Filed",
    "rejected",
    "Caso rejeitado por ter sido protocolado de forma incorreta",
    "Caso Fue Rechazado Porque Se Presentó Incorrectamente",
  ],
  [
    "Petition/Application Was Rejected For Insufficient Funds",
    "rejected",
    "Petição/solicitação rejeitada por falta de fundos",
    "La Petición/Solicitud Fue Rechazada por Fondos Insuficientes",
  ],
  [
    "Case Approval Was Revoked",
    "revoked",
    "Aprovação do caso revogada",
    "Se Revocó la Aprobación del Caso",
  ],
  [
    "Revocation Notice Was Sent",
    "revoked",
    "Aviso de revogação enviado",
    "Se Envió un Aviso de Revocación",
  ],
  [
    "Withdrawal Acknowledgement Notice Was Sent",
    "withdrawn",
    "Aviso de confirmação da desistência enviado",
    "Se Envió el Aviso de Confirmación del Retiro",
  ],
  [
    "Case Closed Benefit Received By Other Means",
    "closed",
    "Caso encerrado: benefício obtido por outro meio",
    "Caso Cerrado, el Beneficio Se Obtuvo por Otros Medios",
  ],
  ["Appeal Was Dismissed", "denied", "Recurso indeferido", "Se Desestimó la Apelación"],
  ["Appeal Was Approved", "approved", "Recurso aprovado", "Se Aprobó la Apelación"],
  // A termination ends a benefit already granted (conditional residence, TPS, DACA), which is
  // what a revocation does too.
  [
    "Termination Notice Sent",
    "revoked",
    "Aviso de extinção do benefício enviado",
    "Se Envió un Aviso de Terminación",
  ],
];

const ConfirmedSpanish = new Set([
  "Case Was Approved",
  "Card Was Delivered To Me By The Post Office",
]);

export const CatalogueTitles: readonly CatalogueTitle[] = Rows.map(
  ([titleEn, category, titlePt, titleEs]) => ({
    titleEn,
    category,
    titlePt,
    titleEs,
    esConfirmed: ConfirmedSpanish.has(titleEn),
  }),
);

/**
 * Capitalisation and punctuation vary between answers ("Request for" / "Request For",
 * "USCIS'" / "USCIS’"), so titles are compared as lower-case words only. Dots and apostrophes
 * join ("U.S." is "us"); any other punctuation separates words ("Petition/Application").
 */
export function foldTitle(title: string): string {
  return title
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[.'’‘`]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

const ByFoldedTitle = new Map(CatalogueTitles.map((entry) => [foldTitle(entry.titleEn), entry]));

// Tried in order on a folded title that is not in the catalogue. A reply to an RFE mentions
// "evidence" too, so "response ... received" must come before the RFE rule; card rules come
// before the generic "mailed", and a denial before an approval ("approval ... denied").
const KeywordRules: [RegExp, Category][] = [
  [/\bresponse\b.*\breceived\b/, "rfe_response_received"],
  [/\bintent to (deny|revoke|terminate)\b/, "noid"],
  [/\bevidence\b/, "rfe"],
  [/\brevo(ked|cation|ke)\b|\bterminat/, "revoked"],
  [/\bwithdraw/, "withdrawn"],
  [/\breject/, "rejected"],
  [/\bden(ied|ial|y)\b|\bdismissed\b/, "denied"],
  [/\bundeliverable\b|\breturned\b|\bcould not deliver\b|\bheld for\b/, "returned_mail"],
  [/\bdelivered\b/, "card_delivered"],
  [/\bcard\b.*\b(mailed|picked up|sent)\b/, "card_mailed"],
  [/\bproduc(ed|ing|tion)\b|\bordered\b/, "card_production"],
  [/\bapprov|\baffirmed\b|\bcertified\b/, "approved"],
  [/\bmailed\b/, "document_mailed"],
  [/\binterview\b|\boath\b/, "interview"],
  [/\bfingerprint|\bbiometric/, "biometrics"],
  [/\btransferr/, "transferred"],
  [/\bclosed\b/, "closed"],
  [/\breview/, "in_review"],
  [/\breceived\b|\breceipt\b|\breopened\b|\bupdated\b|\bfee/, "received"],
];

export function lookupStatus(title: string): StatusEntry {
  const folded = foldTitle(title);
  const entry = ByFoldedTitle.get(folded);
  if (entry) {
    return {
      category: entry.category,
      titlePt: entry.titlePt,
      titleEs: entry.titleEs,
      titleEn: entry.titleEn,
      known: true,
    };
  }
  const rule = KeywordRules.find(([pattern]) => pattern.test(folded));
  return {
    category: rule ? rule[1] : "unknown",
    titlePt: null,
    titleEs: null,
    titleEn: null,
    known: false,
  };
}

export { translateDescriptionPt } from "./descriptions.ts";
