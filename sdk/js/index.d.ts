// Type declarations for @vcity/sdk (the implementation is plain ES modules under src/, so the
// console loads it without a build step).

/** u64 / u128 values: a safe integer, a bigint, or a decimal string (amounts are base units). */
export type Integer = number | bigint | string;
/** 32 bytes as 64 hex digits; an account may also be written as its did:key. */
export type Hex32 = string;

/** A message in the JSON form the API shows; `type` names it (schema.json lists every one). */
export interface Message {
  type: string;
  [field: string]: unknown;
}

export interface Transfer extends Message {
  type: 'transfer';
  to: Hex32;
  denom: 'vcai' | 'usd';
  amount: Integer;
}

export interface TxBody {
  chain_id: string;
  sender: Hex32;
  nonce: Integer;
  fee: Integer;
  messages: Message[];
}

export interface SignedTransaction {
  body: TxBody;
  signature: Uint8Array;
  bytes: Uint8Array;
  hash: string;
}

export function blake3(bytes: Uint8Array): Uint8Array;
export function toHex(bytes: Uint8Array): string;
export function fromHex(text: string): Uint8Array;
export function concat(...parts: Uint8Array[]): Uint8Array;
export function utf8(text: string): Uint8Array;
export function base58Encode(bytes: Uint8Array): string;
export function base58Decode(text: string): Uint8Array;

export const schema: { format: string; types: Record<string, unknown> };
export class EncodingError extends Error {
  path: string;
}
/** The canonical (borsh) bytes of `value` as a schema type such as "Message" or "TxBody". */
export function encode(type: string, value: unknown): Uint8Array;
export function didKeyBytes(did: string): Uint8Array;

export class Key {
  static fromSeed(seed: Uint8Array | string): Promise<Key>;
  static generate(): Promise<Key>;
  readonly publicKey: Uint8Array;
  /** The account id: the public key in hex. */
  readonly account: string;
  readonly did: string;
  exportSeed(): Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}
export function didOf(publicKey: Uint8Array): string;
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
export interface EncryptedKey {
  format: 'vcity-browser-key/1';
  kdf: 'pbkdf2-sha256';
  iterations: number;
  salt: string;
  nonce: string;
  ciphertext: string;
  account: string;
}
export function encryptKey(key: Key, passphrase: string, iterations?: number): Promise<EncryptedKey>;
export function decryptKey(stored: EncryptedKey, passphrase: string): Promise<Key>;

export const SIGN_DOMAIN: Uint8Array;
export function signBytes(body: TxBody): Uint8Array;
export function signTransaction(key: Key, body: TxBody): Promise<SignedTransaction>;
export function txHash(bytes: Uint8Array): string;
export function domainHash(tag: number, ...parts: Uint8Array[]): string;
export function contentAddress(bytes: Uint8Array): string;
export function commitmentHash(commitment: unknown): string;
export function ownerRequestDigest(method: string, path: string, timeMs: Integer): string;

export class ApiError extends Error {
  status: number;
  code: number;
  error: string;
  detail: string;
  receipt?: unknown;
}
export class InvalidOutputError extends Error {}

export interface StreamItem {
  event: 'event' | 'block' | string;
  id: string | null;
  data: any;
}
export function parseEventStream(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<StreamItem>;

type Query = Record<string, string | number | boolean | undefined | null>;

/** A client of the node's API; each method is one route of /v1/openapi.json. */
export class Client {
  constructor(base?: string, options?: { fetch?: typeof fetch });
  base: string;
  status(): Promise<any>;
  validators(): Promise<Array<{ name: string; public_key: string; power: number }>>;
  health(): Promise<any>;
  openapi(): Promise<any>;
  params(): Promise<any>;
  supply(): Promise<any>;
  account(id: string): Promise<any>;
  vesting(id: string): Promise<any>;
  rewards(id: string): Promise<any>;
  poolPosition(id: string): Promise<any>;
  veAccount(id: string, query?: Query): Promise<any>;
  veTotal(query?: Query): Promise<any>;
  pool(): Promise<any>;
  treasury(): Promise<any>;
  incentives(): Promise<any>;
  trust(): Promise<any>;
  /** The TEE attestation rules and the nonce evidence is bound to (docs/attestation.md). */
  attestation(): Promise<any>;
  nodes(query?: Query): Promise<any>;
  node(id: string): Promise<any>;
  jobs(query?: Query): Promise<any>;
  job(id: Integer): Promise<any>;
  subscription(id: Integer): Promise<any>;
  governance(): Promise<any>;
  proposals(query?: Query): Promise<any>;
  proposal(id: string): Promise<any>;
  proposalComments(id: string): Promise<any>;
  nfts(query?: Query): Promise<any>;
  nft(id: Integer): Promise<any>;
  agents(query?: Query): Promise<any>;
  agent(id: Integer): Promise<any>;
  agentCall(job: Integer): Promise<any>;
  latestBlock(): Promise<any>;
  block(height: Integer): Promise<any>;
  transaction(hash: string): Promise<any>;
  blob(address: string): Promise<Uint8Array>;
  putBlob(bytes: Uint8Array): Promise<{ address: string; bytes: number }>;
  submit(bytes: Uint8Array): Promise<string>;
  waitForTransaction(hash: string, options?: { timeoutMs?: number; intervalMs?: number }): Promise<any>;
  send(key: Key, messages: Message[], options?: { fee?: Integer }): Promise<{ hash: string; bytes: Uint8Array }>;
  sendAndWait(key: Key, messages: Message[], options?: { fee?: Integer; timeoutMs?: number }): Promise<any>;
  events(options?: { fromHeight?: Integer; signal?: AbortSignal }): AsyncGenerator<StreamItem>;
  taskOutput(key: Key, jobId: Integer, task: number): Promise<{ commitment: any; output: Uint8Array }>;
}
