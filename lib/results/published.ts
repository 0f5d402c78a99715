/**
 * Published numbers as data. `PUBLISHED` holds only numbers that shared/papers/PROTOCOLS.md marks verified
 * ([V-page] or [V-code]); values are fractions (80.6% → 0.806), metric names are lib/metrics keys.
 * `UNVERIFIED_CLAIMS` keeps third-party ([2nd]) numbers apart, as leads only: never compare against them as the
 * paper's results.
 */

/** A number a paper reports, with where it was checked. */
export interface PublishedResult {
  /** Seed id of the paper in this project ("000".."004"). */
  seed: string;
  paper: string;
  /** Page or repository (with commit) where the number was read. */
  source: string;
  evidence: "V-page" | "V-code";
  dataset: string;
  /** Adaptation method, in RunRecord.method's vocabulary ("lora", "cnn", ...). */
  method: string;
  model: string;
  /** A lib/metrics key: "accuracy", "f1", "roc_auc", "roc_auc_macro". */
  metric: string;
  value: number;
  /** Free-text setting: label fraction, magnification. */
  setting: string;
  /** Fraction of training labels, where the setting is one. */
  dataFraction?: number;
  note: string;
}

/** A number from a secondary source ([2nd]): not verified against the paper. */
export interface UnverifiedClaim extends Omit<PublishedResult, "evidence"> {
  evidence: "2nd";
}

const PAPER3 =
  "Lian et al. 2024, Less Could Be Better: PEFT Advances Medical Vision Foundation Models (arXiv 2401.12215)";
const PAPER3_SRC = "https://www.pith.science/ref/arxiv/2401.12215 (abstract)";
const PAPER4 =
  "Zhaksylyk et al. 2026, Assessing CNNs and LoRA-Fine-Tuned VLMs for Breast Cancer Histopathology (J. Imaging 12(4):168)";
const PAPER4_SRC = "https://www.mdpi.com/2313-433X/12/4/168 (abstract)";
const PAPER4_VLM = "LoRA r=16, alpha=32, dropout=0.05; split and training details not found";
const PAPER4_CNN = "CNN baseline; optimiser, epochs and split not found";

/** Verified published numbers (abstracts): seed 002 (NIH ChestX-ray14) and seed 003 (BreakHis). */
export const PUBLISHED: readonly PublishedResult[] = [
  {
    seed: "002",
    paper: PAPER3,
    source: PAPER3_SRC,
    evidence: "V-page",
    dataset: "NIH ChestX-ray14",
    method: "lora",
    model: "radiography foundation model (ViT-B/16; which of MRM / CXR-MAE not stated in the abstract)",
    metric: "roc_auc_macro",
    value: 0.806,
    setting: "1% labels",
    dataFraction: 0.01,
    note: "abstract: 'AUROC score of 80.6% using 1% labeled data'; mean over the 14 labels of per-label AUROC",
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "lora",
    model: "Qwen2-VL",
    metric: "accuracy",
    value: 0.8736,
    setting: "200x magnification",
    note: PAPER4_VLM,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "lora",
    model: "Qwen2-VL",
    metric: "roc_auc",
    value: 0.9552,
    setting: "200x magnification",
    note: PAPER4_VLM,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "lora",
    model: "SmolVLM",
    metric: "accuracy",
    value: 0.9453,
    setting: "200x magnification",
    note: `abstract: 'reaching up to'; ${PAPER4_VLM}`,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "lora",
    model: "SmolVLM",
    metric: "f1",
    value: 0.9572,
    setting: "200x magnification",
    note: PAPER4_VLM,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "cnn",
    model: "AlexNet",
    metric: "accuracy",
    value: 0.9543,
    setting: "200x magnification",
    note: PAPER4_CNN,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "cnn",
    model: "ResNet34",
    metric: "accuracy",
    value: 0.9879,
    setting: "40x magnification",
    note: `abstract: best across magnifications; ${PAPER4_CNN}`,
  },
  {
    seed: "003",
    paper: PAPER4,
    source: PAPER4_SRC,
    evidence: "V-page",
    dataset: "BreakHis",
    method: "cnn",
    model: "ResNet34",
    metric: "roc_auc",
    value: 0.9984,
    setting: "40x magnification",
    note: PAPER4_CNN,
  },
];

const PAPER2 =
  "Ammeling et al. 2025, Benchmarking Foundation Models for Mitotic Figure Classification (arXiv 2508.04441)";
const PAPER2_2ND = "third-party notes in a public GitHub repository, cited in PROTOCOLS.md as [2nd]";

/** Third-party numbers for seed 001 ([2nd] in PROTOCOLS.md): leads to check against the paper, not results. */
export const UNVERIFIED_CLAIMS: readonly UnverifiedClaim[] = [
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "lora",
    model: "Virchow2",
    metric: "f1_weighted",
    value: 0.81,
    setting: "100% data",
    dataFraction: 1,
    note: "±0.014; 'Table 4' per the notes",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "lora",
    model: "Virchow2",
    metric: "roc_auc",
    value: 0.89,
    setting: "100% data",
    dataFraction: 1,
    note: "±0.011",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "linear_probe",
    model: "Virchow2",
    metric: "f1_weighted",
    value: 0.78,
    setting: "100% data",
    dataFraction: 1,
    note: "",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "ft",
    model: "ResNet50",
    metric: "f1_weighted",
    value: 0.78,
    setting: "100% data",
    dataFraction: 1,
    note: "",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "linear_probe",
    model: "Virchow2",
    metric: "f1_weighted",
    value: 0.72,
    setting: "10% data",
    dataFraction: 0.1,
    note: "",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "CCMCT",
    method: "linear_probe",
    model: "UNI",
    metric: "roc_auc",
    value: 0.83,
    setting: "",
    note: "±0.00",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "CCMCT",
    method: "lora",
    model: "UNI",
    metric: "roc_auc",
    value: 0.87,
    setting: "",
    note: "±0.01",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "linear_probe",
    model: "UNI",
    metric: "roc_auc",
    value: 0.83,
    setting: "",
    note: "±0.00",
  },
  {
    seed: "001",
    paper: PAPER2,
    source: PAPER2_2ND,
    evidence: "2nd",
    dataset: "MIDOG 2022",
    method: "lora",
    model: "UNI",
    metric: "roc_auc",
    value: 0.85,
    setting: "",
    note: "±0.07",
  },
];
