import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { Role } from './roles';

@Entity('api_keys')
export class ApiKey {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column('uuid', { name: 'manufacturer_id', nullable: true }) manufacturerId: string | null;
  @Column('text') role: Role;
  @Column('text') name: string;
  /** First characters of the key, shown in listings so a holder can tell keys apart. */
  @Column('text', { name: 'key_prefix' }) keyPrefix: string;
  @Column('bytea', { name: 'key_sha256', select: false }) keySha256: Buffer;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
}
