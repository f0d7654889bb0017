/**
 * The sentences USCIS's descriptions are made of, as far as we know them, in English with our
 * Portuguese (and a Spanish the simulator uses). The same table serves two ends: the simulator
 * writes its descriptions from it, and translateDescriptionPt reads USCIS's English back
 * through it.
 *
 * USCIS fills a handful of slots: a date ("May 4, 2026"), the form ("I-765, Application for
 * Employment Authorization"), the receipt number and sometimes a USPS tracking number. The form
 * name stays in English in every language: it is the name printed on the form itself.
 */

interface Template {
  /** The wording the simulator writes first, then variants that read the same. */
  en: readonly string[];
  pt: string;
  es: string;
  /** A sentence that says what happened (not boilerplate); a translation needs one. */
  main?: true;
}

export const Descriptions = {
  received: {
    main: true,
    en: [
      "On {date}, we received your Form {form}, Receipt Number {receipt}, and sent you the " +
        "receipt notice that describes how we will process your case.",
    ],
    pt:
      "Em {date}, recebemos seu Formulário {form}, número de recibo {receipt}, e enviamos a " +
      "você o aviso de recebimento, que explica como vamos processar seu caso.",
    es:
      "El {date}, recibimos su Formulario {form}, Número de Recibo {receipt}, y le enviamos el " +
      "aviso de recibo que describe cómo procesaremos su caso.",
  },
  receivedEmailed: {
    main: true,
    en: [
      "On {date}, we received your Form {form}, Receipt Number {receipt}, and emailed you a " +
        "receipt notice that describes how we will process your case.",
    ],
    pt:
      "Em {date}, recebemos seu Formulário {form}, número de recibo {receipt}, e enviamos por " +
      "e-mail o aviso de recebimento, que explica como vamos processar seu caso.",
    es:
      "El {date}, recibimos su Formulario {form}, Número de Recibo {receipt}, y le enviamos por " +
      "correo electrónico un aviso de recibo que describe cómo procesaremos su caso.",
  },
  receivedPlain: {
    main: true,
    en: ["On {date}, we received your Form {form}, Receipt Number {receipt}."],
    pt: "Em {date}, recebemos seu Formulário {form}, número de recibo {receipt}.",
    es: "El {date}, recibimos su Formulario {form}, Número de Recibo {receipt}.",
  },
  fingerprintsTaken: {
    main: true,
    en: [
      "As of {date}, fingerprints relating to your Form {form}, Receipt Number {receipt}, " +
        "have been applied to your case.",
    ],
    pt:
      "Em {date}, as impressões digitais referentes ao seu Formulário {form}, número de " +
      "recibo {receipt}, foram incluídas no seu caso.",
    es:
      "A partir del {date}, las huellas dactilares relacionadas con su Formulario {form}, " +
      "Número de Recibo {receipt}, se han aplicado a su caso.",
  },
  biometricsScheduled: {
    main: true,
    en: [
      "As of {date}, we scheduled your biometrics services appointment for your Form {form}, " +
        "Receipt Number {receipt}.",
      "On {date}, we scheduled your biometrics services appointment for your Form {form}, " +
        "Receipt Number {receipt}.",
    ],
    pt:
      "Em {date}, agendamos seu atendimento de coleta de biometria referente ao seu " +
      "Formulário {form}, número de recibo {receipt}.",
    es:
      "A partir del {date}, programamos su cita de servicios biométricos para su Formulario " +
      "{form}, Número de Recibo {receipt}.",
  },
  activelyReviewed: {
    main: true,
    en: ["As of {date}, we are actively reviewing your Form {form}, Receipt Number {receipt}."],
    pt:
      "Desde {date}, estamos analisando ativamente seu Formulário {form}, número de recibo " +
      "{receipt}.",
    es:
      "A partir del {date}, estamos revisando activamente su Formulario {form}, Número de " +
      "Recibo {receipt}.",
  },
  rfeSent: {
    main: true,
    en: [
      "On {date}, we mailed a request for evidence for your Form {form}, Receipt Number {receipt}.",
      "On {date}, we sent a request for evidence for your Form {form}, Receipt Number {receipt}.",
      "On {date}, we mailed a request for initial evidence for your Form {form}, Receipt " +
        "Number {receipt}.",
      "On {date}, we mailed a request for additional evidence for your Form {form}, Receipt " +
        "Number {receipt}.",
    ],
    pt:
      "Em {date}, enviamos um pedido de evidências referente ao seu Formulário {form}, número " +
      "de recibo {receipt}.",
    es:
      "El {date}, le enviamos por correo una solicitud de evidencia para su Formulario {form}, " +
      "Número de Recibo {receipt}.",
  },
  rfeResponseReceived: {
    main: true,
    en: [
      "On {date}, we received your response to our Request for Evidence for your Form {form}, " +
        "Receipt Number {receipt}.",
    ],
    pt:
      "Em {date}, recebemos sua resposta ao nosso pedido de evidências referente ao seu " +
      "Formulário {form}, número de recibo {receipt}.",
    es:
      "El {date}, recibimos su respuesta a nuestra Solicitud de Evidencia para su Formulario " +
      "{form}, Número de Recibo {receipt}.",
  },
  noidSent: {
    main: true,
    en: [
      "On {date}, we mailed a notice of intent to deny for your Form {form}, Receipt Number " +
        "{receipt}.",
    ],
    pt:
      "Em {date}, enviamos uma notificação de intenção de indeferimento referente ao seu " +
      "Formulário {form}, número de recibo {receipt}.",
    es:
      "El {date}, le enviamos por correo un aviso de intención de denegar su Formulario " +
      "{form}, Número de Recibo {receipt}.",
  },
  interviewReady: {
    main: true,
    en: [
      "As of {date}, we are ready to schedule your Form {form}, Receipt Number {receipt}, " +
        "for an interview.",
    ],
    pt:
      "Desde {date}, seu Formulário {form}, número de recibo {receipt}, está pronto para o " +
      "agendamento da entrevista.",
    es:
      "A partir del {date}, estamos listos para programar una entrevista para su Formulario " +
      "{form}, Número de Recibo {receipt}.",
  },
  interviewScheduled: {
    main: true,
    en: ["On {date}, we scheduled an interview for your Form {form}, Receipt Number {receipt}."],
    pt:
      "Em {date}, agendamos uma entrevista referente ao seu Formulário {form}, número de " +
      "recibo {receipt}.",
    es:
      "El {date}, programamos una entrevista para su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  interviewRescheduled: {
    main: true,
    en: ["On {date}, we rescheduled an interview for your Form {form}, Receipt Number {receipt}."],
    pt:
      "Em {date}, reagendamos a entrevista referente ao seu Formulário {form}, número de " +
      "recibo {receipt}.",
    es:
      "El {date}, reprogramamos una entrevista para su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  interviewCompleted: {
    main: true,
    en: ["On {date}, we interviewed you and reviewed your Form {form}, Receipt Number {receipt}."],
    pt:
      "Em {date}, fizemos sua entrevista e analisamos seu Formulário {form}, número de " +
      "recibo {receipt}.",
    es:
      "El {date}, lo entrevistamos y revisamos su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  transferred: {
    main: true,
    en: [
      "On {date}, we transferred your Form {form}, Receipt Number {receipt}, to another " +
        "USCIS office.",
    ],
    pt:
      "Em {date}, transferimos seu Formulário {form}, número de recibo {receipt}, para outro " +
      "escritório do USCIS.",
    es:
      "El {date}, transferimos su Formulario {form}, Número de Recibo {receipt}, a otra " +
      "oficina de USCIS.",
  },
  approved: {
    main: true,
    en: ["On {date}, we approved your Form {form}, Receipt Number {receipt}."],
    pt: "Em {date}, aprovamos seu Formulário {form}, número de recibo {receipt}.",
    es: "El {date}, aprobamos su Formulario {form}, Número de Recibo {receipt}.",
  },
  approvalAffirmed: {
    main: true,
    en: ["On {date}, we affirmed the approval of your Form {form}, Receipt Number {receipt}."],
    pt:
      "Em {date}, confirmamos a aprovação do seu Formulário {form}, número de recibo " +
      "{receipt}.",
    es:
      "El {date}, confirmamos la aprobación de su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  cardOrdered: {
    main: true,
    en: ["On {date}, we ordered your new card for your Form {form}, Receipt Number {receipt}."],
    pt:
      "Em {date}, solicitamos a produção do seu novo cartão referente ao seu Formulário " +
      "{form}, número de recibo {receipt}.",
    es:
      "El {date}, ordenamos su nueva tarjeta para su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  cardOrderedNoForm: {
    main: true,
    en: [
      "On {date}, we ordered your new card for Receipt Number {receipt}, and will mail it to " +
        "the address you gave us.",
    ],
    pt:
      "Em {date}, solicitamos a produção do seu novo cartão referente ao número de recibo " +
      "{receipt} e vamos enviá-lo pelo correio para o endereço que você nos informou.",
    es:
      "El {date}, ordenamos su nueva tarjeta para el Número de Recibo {receipt}, y se la " +
      "enviaremos por correo a la dirección que nos proporcionó.",
  },
  cardMailed: {
    main: true,
    en: [
      "On {date}, we mailed your new card for your Form {form}, Receipt Number {receipt}, to " +
        "the address you gave us.",
    ],
    pt:
      "Em {date}, enviamos pelo correio seu novo cartão referente ao seu Formulário {form}, " +
      "número de recibo {receipt}, para o endereço que você nos informou.",
    es:
      "El {date}, le enviamos por correo su nueva tarjeta para su Formulario {form}, Número " +
      "de Recibo {receipt}, a la dirección que nos proporcionó.",
  },
  cardPickedUp: {
    main: true,
    en: [
      "On {date}, the Post Office picked up mail containing your new card for your Form " +
        "{form}, Receipt Number {receipt}.",
    ],
    pt:
      "Em {date}, o correio dos EUA recolheu a correspondência com seu novo cartão referente " +
      "ao seu Formulário {form}, número de recibo {receipt}.",
    es:
      "El {date}, el Servicio Postal recogió el correo que contiene su nueva tarjeta para su " +
      "Formulario {form}, Número de Recibo {receipt}.",
  },
  cardDelivered: {
    main: true,
    en: [
      "On {date}, the Post Office delivered your new card for your Form {form}, Receipt " +
        "Number {receipt}, to the address that you gave us.",
      "On {date}, the Post Office delivered your new card for your Form {form}, Receipt " +
        "Number {receipt}, to the address you gave us.",
    ],
    pt:
      "Em {date}, o correio entregou seu novo cartão referente ao seu Formulário {form}, " +
      "número de recibo {receipt}, no endereço que você nos informou.",
    es:
      "El {date}, el Servicio Postal entregó su nueva tarjeta para su Formulario {form}, " +
      "Número de Recibo {receipt}, a la dirección que nos proporcionó.",
  },
  documentMailed: {
    main: true,
    en: [
      "On {date}, we mailed your document for your Form {form}, Receipt Number {receipt}, to " +
        "the address you gave us.",
      "On {date}, we mailed your travel document for your Form {form}, Receipt Number " +
        "{receipt}, to the address you gave us.",
    ],
    pt:
      "Em {date}, enviamos pelo correio seu documento referente ao seu Formulário {form}, " +
      "número de recibo {receipt}, para o endereço que você nos informou.",
    es:
      "El {date}, le enviamos por correo su documento para su Formulario {form}, Número de " +
      "Recibo {receipt}, a la dirección que nos proporcionó.",
  },
  denied: {
    main: true,
    en: ["On {date}, we denied your Form {form}, Receipt Number {receipt}."],
    pt: "Em {date}, negamos seu Formulário {form}, número de recibo {receipt}.",
    es: "El {date}, denegamos su Formulario {form}, Número de Recibo {receipt}.",
  },
  rejected: {
    main: true,
    en: ["On {date}, we rejected your Form {form}, Receipt Number {receipt}."],
    pt: "Em {date}, rejeitamos seu Formulário {form}, número de recibo {receipt}.",
    es: "El {date}, rechazamos su Formulario {form}, Número de Recibo {receipt}.",
  },
  rejectedUnsigned: {
    main: true,
    en: [
      "On {date}, we rejected your Form {form}, Receipt Number {receipt}, because you did not " +
        "sign your form.",
    ],
    pt:
      "Em {date}, rejeitamos seu Formulário {form}, número de recibo {receipt}, porque o " +
      "formulário não foi assinado.",
    es:
      "El {date}, rechazamos su Formulario {form}, Número de Recibo {receipt}, porque usted no " +
      "firmó su formulario.",
  },
  rejectedFee: {
    main: true,
    en: [
      "On {date}, we rejected your Form {form}, Receipt Number {receipt}, because you sent an " +
        "incorrect fee.",
    ],
    pt:
      "Em {date}, rejeitamos seu Formulário {form}, número de recibo {receipt}, porque a taxa " +
      "enviada estava incorreta.",
    es:
      "El {date}, rechazamos su Formulario {form}, Número de Recibo {receipt}, porque envió " +
      "una tarifa incorrecta.",
  },
  rejectedImproper: {
    main: true,
    en: [
      "On {date}, we rejected your Form {form}, Receipt Number {receipt}, because it was " +
        "improperly filed.",
    ],
    pt:
      "Em {date}, rejeitamos seu Formulário {form}, número de recibo {receipt}, porque ele " +
      "foi protocolado de forma incorreta.",
    es:
      "El {date}, rechazamos su Formulario {form}, Número de Recibo {receipt}, porque se " +
      "presentó incorrectamente.",
  },
  withdrawalAcknowledged: {
    main: true,
    en: [
      "On {date}, we mailed you a notice acknowledging the withdrawal of your Form {form}, " +
        "Receipt Number {receipt}.",
    ],
    pt:
      "Em {date}, enviamos pelo correio um aviso confirmando a desistência do seu Formulário " +
      "{form}, número de recibo {receipt}.",
    es:
      "El {date}, le enviamos por correo un aviso confirmando el retiro de su Formulario " +
      "{form}, Número de Recibo {receipt}.",
  },
  withdrawalReceived: {
    main: true,
    en: [
      "On {date}, we received your request to withdraw your Form {form}, Receipt Number {receipt}.",
    ],
    pt:
      "Em {date}, recebemos seu pedido de desistência do Formulário {form}, número de recibo " +
      "{receipt}.",
    es:
      "El {date}, recibimos su solicitud para retirar su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },
  revoked: {
    main: true,
    en: ["On {date}, we revoked the approval of your Form {form}, Receipt Number {receipt}."],
    pt: "Em {date}, revogamos a aprovação do seu Formulário {form}, número de recibo {receipt}.",
    es:
      "El {date}, revocamos la aprobación de su Formulario {form}, Número de Recibo " +
      "{receipt}.",
  },

  followNotice: {
    en: ["Please follow the instructions in the notice."],
    pt: "Siga as instruções do aviso.",
    es: "Por favor, siga las instrucciones del aviso.",
  },
  contactCenter: {
    en: [
      "If you have any questions, contact the USCIS Contact Center at " +
        "www.uscis.gov/contactcenter.",
      "If you have questions, contact the USCIS Contact Center at www.uscis.gov/contactcenter.",
    ],
    pt:
      "Se tiver dúvidas, fale com a Central de Atendimento do USCIS em " +
      "www.uscis.gov/contactcenter.",
    es:
      "Si tiene alguna pregunta, comuníquese con el Centro de Contacto de USCIS en " +
      "www.uscis.gov/contactcenter.",
  },
  ifYouMove: {
    en: ["If you move, go to www.uscis.gov/addresschange to give us your new mailing address."],
    pt:
      "Se você se mudar, acesse www.uscis.gov/addresschange " +
      "para nos informar seu novo endereço.",
    es: "Si se muda, visite www.uscis.gov/addresschange para darnos su nueva dirección postal.",
  },
  noReceiptNoticeBy: {
    en: [
      "If you do not receive your receipt notice by {due}, contact the USCIS Contact Center " +
        "at www.uscis.gov/contactcenter.",
    ],
    pt:
      "Se não receber o aviso de recebimento até {due}, fale com a Central de Atendimento do " +
      "USCIS em www.uscis.gov/contactcenter.",
    es:
      "Si no recibe su aviso de recibo antes del {due}, comuníquese con el Centro de Contacto " +
      "de USCIS en www.uscis.gov/contactcenter.",
  },
  appointmentNoticeSent: {
    en: ["We sent you an appointment notice.", "We mailed you an appointment notice."],
    pt: "Enviamos a você um aviso de agendamento.",
    es: "Le enviamos un aviso de cita.",
  },
  nothingOutstanding: {
    en: ["Our records show nothing is outstanding at this time."],
    pt: "Nossos registros mostram que não há pendências no momento.",
    es: "Nuestros registros muestran que no hay nada pendiente en este momento.",
  },
  willContactYou: {
    en: ["If anything is needed, we will contact you."],
    pt: "Se precisarmos de algo, entraremos em contato.",
    es: "Si necesitamos algo, nos comunicaremos con usted.",
  },
  rfeExplains: {
    en: ["The request explains what we need from you."],
    pt: "O pedido explica o que precisamos de você.",
    es: "La solicitud explica lo que necesitamos de usted.",
  },
  rfeNoActionUntil: {
    en: [
      "We will not take action on your case until we receive the evidence or the deadline to " +
        "submit it expires.",
    ],
    pt:
      "Não daremos andamento ao seu caso até recebermos as evidências " +
      "ou até terminar o prazo " +
      "para enviá-las.",
    es:
      "No tomaremos ninguna acción en su caso hasta que recibamos la evidencia o venza el " +
      "plazo para presentarla.",
  },
  rfeFollowInstructions: {
    en: ["Please follow the instructions in the request for evidence."],
    pt: "Siga as instruções do pedido de evidências.",
    es: "Por favor, siga las instrucciones de la solicitud de evidencia.",
  },
  begunWorking: {
    en: ["USCIS has begun working on your case."],
    pt: "O USCIS começou a trabalhar no seu caso.",
    es: "USCIS ha comenzado a trabajar en su caso.",
  },
  interviewNoticeMailed: {
    en: ["We mailed you an interview notice.", "We sent you an interview notice."],
    pt: "Enviamos a você um aviso de entrevista.",
    es: "Le enviamos por correo un aviso de entrevista.",
  },
  approvalNoticeSent: {
    en: ["We sent you an approval notice.", "We mailed you an approval notice."],
    pt: "Enviamos a você um aviso de aprovação.",
    es: "Le enviamos un aviso de aprobación.",
  },
  willMailCard: {
    en: ["We will mail your card to the address you gave us."],
    pt: "Vamos enviar seu cartão pelo correio para o endereço que você nos informou.",
    es: "Le enviaremos su tarjeta por correo a la dirección que nos proporcionó.",
  },
  cardWithin30Days: {
    en: ["The Post Office should deliver your new card within 30 days."],
    pt: "O correio deve entregar seu novo cartão em até 30 dias.",
    es: "El Servicio Postal debería entregarle su nueva tarjeta dentro de 30 días.",
  },
  noCardBy: {
    en: [
      "If you do not receive your card by {due}, contact the USCIS Contact Center at " +
        "www.uscis.gov/contactcenter.",
    ],
    pt:
      "Se não receber o cartão até {due}, fale com a Central de Atendimento do USCIS em " +
      "www.uscis.gov/contactcenter.",
    es:
      "Si no recibe su tarjeta antes del {due}, comuníquese con el Centro de Contacto de USCIS " +
      "en www.uscis.gov/contactcenter.",
  },
  trackingNumber: {
    en: ["The tracking number assigned is {tracking}."],
    pt: "O número de rastreamento é {tracking}.",
    es: "El número de rastreo asignado es {tracking}.",
  },
  trackingLookup: {
    en: ["You can use your tracking number at www.USPS.com in the Look Up a Package section."],
    pt:
      "Você pode acompanhar a entrega com esse número em www.USPS.com, na seção Look Up a " +
      "Package.",
    es: "Puede usar su número de rastreo en www.USPS.com, en la sección Look Up a Package.",
  },
  denialNoticeSent: {
    en: ["We sent you a denial notice that explains why we denied your case."],
    pt: "Enviamos a você um aviso de indeferimento que explica por que seu caso foi negado.",
    es: "Le enviamos un aviso de denegación que explica por qué denegamos su caso.",
  },
  rejectionNoticeSent: {
    en: [
      "We sent you a rejection notice that explains why we rejected your case.",
      "We mailed you a rejection notice that explains why we rejected your case.",
    ],
    pt: "Enviamos a você um aviso de rejeição que explica por que seu caso foi rejeitado.",
    es: "Le enviamos un aviso de rechazo que explica por qué rechazamos su caso.",
  },
  transferNoticeSent: {
    en: [
      "We sent you a notice explaining why we transferred your case and where we transferred it.",
    ],
    pt: "Enviamos a você um aviso explicando por que e para onde transferimos seu caso.",
    es: "Le enviamos un aviso que explica por qué y adónde transferimos su caso.",
  },
  noticeSent: {
    en: ["We sent you a notice.", "We mailed you a notice."],
    pt: "Enviamos um aviso a você.",
    es: "Le enviamos un aviso.",
  },
} satisfies Record<string, Template>;

export type DescriptionId = keyof typeof Descriptions;

export type DescriptionLanguage = "en" | "es" | "pt";

/** The slots a description fills; dates are calendar dates, YYYY-MM-DD. */
export interface DescriptionFacts {
  date: string;
  form: string;
  receipt: string;
  /** A second date some sentences name (a deadline). */
  due?: string;
  tracking?: string;
}

/** Writes the sentences in order, in one language: the simulator's descriptions. */
export function writeDescription(
  ids: readonly DescriptionId[],
  language: DescriptionLanguage,
  facts: DescriptionFacts,
): string {
  const slots = {
    date: formatDate(facts.date, language),
    due: facts.due ? formatDate(facts.due, language) : "",
    form: facts.form,
    receipt: facts.receipt,
    tracking: facts.tracking ?? "",
  };
  let out = "";
  for (const id of ids) {
    const pieces = writtenPieces(id)[language];
    if (out !== "") out += " ";
    out += pieces[0] ?? "";
    for (let i = 1; i < pieces.length; i += 2) {
      const name = pieces[i]!;
      out += (slots[name as keyof typeof slots] ?? `{${name}}`) + pieces[i + 1];
    }
  }
  return out;
}

/** Each description's written wording cut at its slots, per language, once. */
const WrittenPieces: Partial<Record<DescriptionId, Record<DescriptionLanguage, string[]>>> = {};

function writtenPieces(id: DescriptionId): Record<DescriptionLanguage, string[]> {
  let pieces = WrittenPieces[id];
  if (!pieces) {
    const template: Template = Descriptions[id];
    pieces = {
      en: piecesOf(template.en[0] ?? ""),
      es: piecesOf(template.es),
      pt: piecesOf(template.pt),
    };
    WrittenPieces[id] = pieces;
  }
  return pieces;
}

const MonthsEn = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const MonthsPt = [
  "janeiro",
  "fevereiro",
  "março",
  "abril",
  "maio",
  "junho",
  "julho",
  "agosto",
  "setembro",
  "outubro",
  "novembro",
  "dezembro",
];
const MonthsEs = [
  "enero",
  "febrero",
  "marzo",
  "abril",
  "mayo",
  "junio",
  "julio",
  "agosto",
  "septiembre",
  "octubre",
  "noviembre",
  "diciembre",
];

/** "2026-05-04" in each language: "May 4, 2026", "4 de mayo de 2026", "4 de maio de 2026". */
export function formatDate(isoDate: string, language: DescriptionLanguage): string {
  const formattedIn = Formatted[language];
  let formatted = formattedIn.get(isoDate);
  if (formatted === undefined) {
    // A few years of days; the bound only guards against odd input.
    if (formattedIn.size >= 10_000) formattedIn.clear();
    formatted = formatNewDate(isoDate, language);
    formattedIn.set(isoDate, formatted);
  }
  return formatted;
}

// Every description the simulator writes, and every one translated, names a date or two, and
// the same few hundred days come up again and again. A map per language, so a look-up needs
// no key built.
const Formatted: Record<DescriptionLanguage, Map<string, string>> = {
  en: new Map(),
  es: new Map(),
  pt: new Map(),
};

function formatNewDate(isoDate: string, language: DescriptionLanguage): string {
  const [year, month, day] = isoDate.split("-").map(Number) as [number, number, number];
  if (language === "en") return `${MonthsEn[month - 1]} ${day}, ${year}`;
  if (language === "es") return `${day} de ${MonthsEs[month - 1]} de ${year}`;
  // Brazilian usage writes the first of the month as an ordinal: "1º de maio".
  return `${day === 1 ? "1º" : day} de ${MonthsPt[month - 1]} de ${year}`;
}

/** A template cut at its slots, once: text at even indexes, slot names at odd ones. */
const Pieces = new Map<string, string[]>();

function piecesOf(template: string): string[] {
  let pieces = Pieces.get(template);
  if (!pieces) {
    pieces = template.split(/\{(\w+)\}/);
    Pieces.set(template, pieces);
  }
  return pieces;
}

/** Each `{name}` replaced by what `value` gives for it; one it has nothing for stays as is. */
function fillPieces(template: string, value: (name: string) => string | undefined): string {
  const pieces = piecesOf(template);
  let out = pieces[0] ?? "";
  for (let i = 1; i < pieces.length; i += 2) {
    const name = pieces[i]!;
    out += (value(name) ?? `{${name}}`) + pieces[i + 1];
  }
  return out;
}

const SlotPatterns: Record<string, string> = {
  date: `(?<date>(?:${MonthsEn.join("|")}) \\d{1,2}, \\d{4})`,
  due: `(?<due>(?:${MonthsEn.join("|")}) \\d{1,2}, \\d{4})`,
  // Form names can hold commas ("Petition for Amerasian, Widow(er), or Special Immigrant"), so
  // the form runs lazily up to the ", Receipt Number" that always follows it.
  form: "(?<form>[A-Z]{1,3}-?\\d{1,4}[A-Z]?(?:, .+?)?)",
  receipt: "(?<receipt>[A-Z]{3}[0-9*]\\d{9})",
  tracking: "(?<tracking>[A-Z0-9]{8,40})",
};

interface CompiledSentence {
  pattern: RegExp;
  pt: string;
  main: boolean;
}

const Compiled: CompiledSentence[] = Object.values(Descriptions).flatMap((template: Template) =>
  template.en.map((en) => ({
    pattern: compile(en),
    pt: template.pt,
    main: template.main === true,
  })),
);

function compile(en: string): RegExp {
  const escaped = en.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  const source = escaped.replace(/\{(\w+)\}/g, (whole, name: string) => {
    return SlotPatterns[name] ?? whole;
  });
  return new RegExp(`^${source}$`, "iu");
}

/**
 * Portuguese for a USCIS English description, carrying over its date, form and receipt;
 * null when no sentence saying what happened is recognised (the caller then keeps the
 * English). A recognised description may still hold a sentence we have no Portuguese for:
 * that sentence is kept in English rather than dropped, so nothing USCIS said is lost.
 */
export function translateDescriptionPt(descriptionEn: string): string | null {
  const sentences = splitSentences(descriptionEn.replace(/\s+/g, " ").trim());
  let recognised = false;

  const translated = sentences.map((sentence) => {
    for (const candidate of Compiled) {
      const match = candidate.pattern.exec(sentence);
      if (!match) continue;
      recognised ||= candidate.main;
      return fillFromMatch(candidate.pt, match.groups ?? {});
    }
    return sentence;
  });

  return recognised ? translated.join(" ") : null;
}

function fillFromMatch(pt: string, groups: Record<string, string | undefined>): string {
  return fillPieces(pt, (name) => {
    const value = groups[name];
    if (value === undefined) return undefined;
    return name === "date" || name === "due" ? englishDateToPt(value) : value;
  });
}

const MonthIndexEn = new Map(MonthsEn.map((name, index) => [name.toLowerCase(), index]));

function englishDateToPt(date: string): string {
  const match = /^(\w+) (\d{1,2}), (\d{4})$/.exec(date);
  if (!match) return date;
  const month = MonthIndexEn.get(match[1]!.toLowerCase()) ?? -1;
  const iso = `${match[3]}-${String(month + 1).padStart(2, "0")}-${match[2]?.padStart(2, "0")}`;
  return formatDate(iso, "pt");
}

// "U.S." and "D.C." end in a dot without ending the sentence.
const Abbreviation = /\b(?:U\.S|U\.S\.A|D\.C|Mr|Mrs|Ms|Dr|No|St|Jr|Sr)\.$/;

function splitSentences(text: string): string[] {
  if (text === "") return [];
  const sentences: string[] = [];
  for (const piece of text.split(/(?<=[.!?])\s+(?=["“(]?[A-Z0-9])/u)) {
    const previous = sentences.at(-1);
    if (previous !== undefined && Abbreviation.test(previous)) {
      sentences[sentences.length - 1] = `${previous} ${piece}`;
    } else {
      sentences.push(piece);
    }
  }
  return sentences;
}
