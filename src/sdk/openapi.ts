// The OpenAPI document of a service (`services[].openapi`) as plugins receive it in their
// scope: bundled (every `$ref` left is local, `#/...`), with its operations listed once.
/** A JSON object of the document, read-only. */
export type OpenApiObject = Readonly<Record<string, unknown>>;

/** One operation: a method on a path of the document. */
export interface OpenApiOperation {
  /** Upper case: GET, POST… */
  readonly method: string;
  /** The document's path template, e.g. "/pets/{petId}". */
  readonly path: string;
  /** The operation's `operationId`, or null. */
  readonly operationId: string | null;
  /** "operationId", or "METHOD path" when the operation has none: how metrics and logs name it. */
  readonly label: string;
  /** The Operation Object. */
  readonly operation: OpenApiObject;
  /** Path-level and operation-level Parameter Objects (the operation's win), `$ref`s resolved. */
  readonly parameters: readonly OpenApiObject[];
  /** The Request Body Object, `$ref` resolved, or null. */
  readonly requestBody: OpenApiObject | null;
  /** Response Objects by status ("200", "4XX", "default"), `$ref`s resolved. */
  readonly responses: Readonly<Record<string, OpenApiObject>>;
  /** The operation's schemas, compiled when the document was loaded. */
  readonly validators: OperationValidators;
}

/** One problem of a value against a schema. */
export interface SchemaIssue {
  /** JSON pointer into the value checked ("" for the value itself). */
  readonly pointer: string;
  readonly message: string;
}

/** A compiled schema: null when the value is valid, else every issue. */
export type SchemaCheck = (value: unknown) => readonly SchemaIssue[] | null;

/** The compiled schemas of an operation (JSON media types only, names lower case). */
export interface OperationValidators {
  /**
   * One per `parameters` entry (same order), null without a schema. Takes the value as
   * received (a string, or a string array for a repeated or split value) and checks it
   * after turning it into the schema's types ("7" into 7 for an integer).
   */
  readonly parameters: readonly (SchemaCheck | null)[];
  /** The request body's checks by media type ("application/json"); readOnly properties are refused. */
  readonly body: ReadonlyMap<string, SchemaCheck>;
  /** Response body checks by status key ("200", "4XX", "default") then media type; writeOnly properties are refused. */
  readonly responses: ReadonlyMap<string, ReadonlyMap<string, SchemaCheck>>;
}

/** A service's document. */
export interface OpenApiContract {
  /** "3.0" or "3.1": the schema dialect (3.0's `nullable`, 3.1's JSON Schema 2020-12). */
  readonly version: '3.0' | '3.1';
  /** The bundled document. */
  readonly document: OpenApiObject;
  readonly operations: readonly OpenApiOperation[];
  /** Gateway path prefix before the document's paths ("" when none): `services[].openapi.prefix`. */
  readonly prefix: string;
  /** The document file, for messages. */
  readonly file: string;
}
