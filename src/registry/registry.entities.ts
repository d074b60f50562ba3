import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** Column transformer: PostgreSQL numeric arrives as a string; thresholds are used as numbers. */
const numericAsNumber = {
  to: (value: number): number => value,
  from: (value: string): number => Number(value),
};

@Entity('manufacturers')
export class Manufacturer {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('text') name: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

export interface PremarketEstimate {
  estimate: number;
  ci95: [number, number];
  n: number;
}

/** Per-vessel performance claimed from the pivotal study, against which field accuracy is judged. */
export interface PremarketClaims {
  sensitivity: PremarketEstimate;
  specificity: PremarketEstimate;
  auc: PremarketEstimate;
  source?: string;
}

@Entity('products')
export class Product {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'manufacturer_id' }) manufacturerId: string;
  @Column('text') name: string;
  @Column('text', { name: 'udi_di' }) udiDi: string;
  @Column('text', { name: 'risk_class' }) riskClass: string;
  @Column('text', { array: true }) jurisdictions: string[];
  @Column('numeric', { name: 'ffr_threshold', precision: 4, scale: 3, transformer: numericAsNumber })
  ffrThreshold: number;
  @Column('jsonb', { name: 'premarket_claims' }) premarketClaims: PremarketClaims;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

@Entity('model_versions')
export class ModelVersion {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'product_id' }) productId: string;
  @Column('text') version: string;
  @Column('timestamptz', { name: 'released_at' }) releasedAt: Date;
  @Column('text', { nullable: true }) notes: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

@Entity('sites')
export class Site {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'manufacturer_id' }) manufacturerId: string;
  @Column('text', { name: 'site_code' }) siteCode: string;
  @Column('text') name: string;
  @Column('char', { length: 2 }) country: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

@Entity('devices')
export class Device {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'manufacturer_id' }) manufacturerId: string;
  @Column('uuid', { name: 'product_id' }) productId: string;
  @Column('uuid', { name: 'site_id' }) siteId: string;
  @Column('text', { name: 'device_code' }) deviceCode: string;
  @Column('text', { name: 'software_version' }) softwareVersion: string;
  @Column('text', { name: 'model_version' }) modelVersion: string;
  @Column('text', { name: 'scanner_vendor', nullable: true }) scannerVendor: string | null;
  @Column('text', { name: 'scanner_model', nullable: true }) scannerModel: string | null;
  @Column('bytea', { name: 'secret_ciphertext', select: false }) secretCiphertext: Buffer;
  @Column('timestamptz', { name: 'secret_rotated_at' }) secretRotatedAt: Date;
  /** Non-secret id of the current secret ("sk_" + 32 hex), named in the audit trail and dead letters. */
  @Column('text', { name: 'secret_key_id' }) secretKeyId: string;
  /** The secret the last rotation replaced, sealed like the current one; null before any rotation. */
  @Column('bytea', { name: 'previous_secret_ciphertext', select: false, nullable: true })
  previousSecretCiphertext: Buffer | null;
  @Column('text', { name: 'previous_secret_key_id', nullable: true }) previousSecretKeyId: string | null;
  /** Until then events signed with the previous secret are accepted; afterwards: DLQ retired_secret. */
  @Column('timestamptz', { name: 'previous_secret_valid_until', nullable: true })
  previousSecretValidUntil: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  /** Set once, never cleared: a revoked device's events are dead-lettered as revoked_sender. */
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}

@Entity('data_sources')
export class ClinicalDataSource {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'manufacturer_id' }) manufacturerId: string;
  @Column('uuid', { name: 'site_id' }) siteId: string;
  @Column('text', { name: 'source_code' }) sourceCode: string;
  @Column('text') name: string;
  @Column('text') kind: string;
  @Column('bytea', { name: 'secret_ciphertext', select: false }) secretCiphertext: Buffer;
  @Column('timestamptz', { name: 'secret_rotated_at' }) secretRotatedAt: Date;
  /** Non-secret id of the current secret ("sk_" + 32 hex), named in the audit trail and dead letters. */
  @Column('text', { name: 'secret_key_id' }) secretKeyId: string;
  /** The secret the last rotation replaced, sealed like the current one; null before any rotation. */
  @Column('bytea', { name: 'previous_secret_ciphertext', select: false, nullable: true })
  previousSecretCiphertext: Buffer | null;
  @Column('text', { name: 'previous_secret_key_id', nullable: true }) previousSecretKeyId: string | null;
  /** Until then events signed with the previous secret are accepted; afterwards: DLQ retired_secret. */
  @Column('timestamptz', { name: 'previous_secret_valid_until', nullable: true })
  previousSecretValidUntil: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  /** Set once, never cleared: a revoked data source's events are dead-lettered as revoked_sender. */
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}

export const REGISTRY_ENTITIES = [Manufacturer, Product, ModelVersion, Site, Device, ClinicalDataSource];
